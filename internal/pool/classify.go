package pool

import (
	"errors"
	"fmt"
	"time"

	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/runners"
)

// VerdictKind says how a handler's error is treated.
type VerdictKind int

// Kinds of verdict.
const (
	// Retry is a passing fault (LXD or GitHub unreachable, a 5xx answer, a
	// timeout): the hook fails and Juju retries it.
	Retry VerdictKind = iota
	// Block is a problem only the operator can fix: a Blocked status, and
	// the hook succeeds.
	Block
	// Wait is a condition outside the unit that lifts by itself (a GitHub
	// rate limit): a Waiting status, and the hook succeeds; the next hook or
	// timer run tries again.
	Wait
)

// Verdict is how an error is treated, and the status message saying why.
type Verdict struct {
	Kind VerdictKind
	// Message is the status message for Block and Wait.
	Message string
	// Config is true when the problem is a bad option value.
	Config bool
}

// ActionMessage is what a failed action says for a Block or Wait verdict.
func (v Verdict) ActionMessage() string {
	if v.Config {
		return "invalid configuration: " + v.Message
	}
	return v.Message
}

// BlockedError is a problem only the operator can fix that is not a bad
// option value, such as a machine without LXD. Message is the Blocked
// status; it says how to fix the problem.
type BlockedError struct {
	Message string
	// Err is the underlying error, if any (logged, not shown).
	Err error
}

// Error is the message, and the cause when there is one.
func (e *BlockedError) Error() string {
	if e.Err == nil {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

// Unwrap gives the cause.
func (e *BlockedError) Unwrap() error { return e.Err }

// GitHubError is a failed GitHub call made for the configured path. It
// carries the path so that Classify can name it, and the scope the token
// needs for it.
type GitHubError struct {
	// Path is the `path` option: an organisation or owner/repo.
	Path string
	Err  error
}

// Error is the cause's message.
func (e *GitHubError) Error() string { return e.Err.Error() }

// Unwrap gives the cause.
func (e *GitHubError) Unwrap() error { return e.Err }

// NeededScope is the classic token scope the runner API needs for path: `repo`
// for a repository, `admin:org` for an organisation.
func NeededScope(path string) string {
	if (Settings{Path: path}).IsRepository() {
		return "repo"
	}
	return "admin:org"
}

// Classify decides how err is treated. The first match wins:
//
//   - *config.Error: Block, naming the bad options;
//   - *BlockedError: Block, with its message;
//   - *runners.MissingPackagesError: Block, naming image-packages and the packages apt cannot find;
//   - GitHub refused the token (401): Block, `token: rejected by GitHub (bad credentials)`;
//   - GitHub forbade the call (403, not a rate limit): Block, naming the scope the token lacks;
//   - GitHub does not know the path (404): Block, `path "x": not found or not visible to the token`;
//   - the runner group does not exist: Block, naming the group;
//   - a GitHub rate limit: Wait, saying when it lifts;
//   - anything else: Retry.
func Classify(err error) Verdict {
	if err == nil {
		return Verdict{Kind: Retry}
	}
	var cerr *config.Error
	if errors.As(err, &cerr) {
		return Verdict{Kind: Block, Message: cerr.Error(), Config: true}
	}
	var berr *BlockedError
	if errors.As(err, &berr) {
		return Verdict{Kind: Block, Message: berr.Message}
	}
	var perr *runners.MissingPackagesError
	if errors.As(err, &perr) {
		return Verdict{Kind: Block, Config: true, Message: fmt.Sprintf(
			"image-packages: %s in the base image's sources; fix the package names", perr.Error())}
	}
	path := ""
	var gerr *GitHubError
	if errors.As(err, &gerr) {
		path = gerr.Path
	}
	switch {
	case errors.Is(err, github.ErrBadCredentials):
		return Verdict{Kind: Block, Message: "token: rejected by GitHub (bad credentials)"}
	case errors.Is(err, github.ErrForbidden):
		if path == "" {
			return Verdict{Kind: Block, Message: "token: missing permission: GitHub refused the runner API (the token needs admin:org for an organisation, repo for a repository)"}
		}
		return Verdict{Kind: Block, Message: fmt.Sprintf("token: missing permission: the token needs the %s scope for %s", NeededScope(path), describePath(path))}
	case errors.Is(err, github.ErrNotFound):
		if path == "" {
			return Verdict{Kind: Block, Message: "path: not found or not visible to the token"}
		}
		return Verdict{Kind: Block, Message: fmt.Sprintf("path %q: not found or not visible to the token", path)}
	case errors.Is(err, github.ErrUnknownGroup):
		var ug *github.UnknownGroupError
		if errors.As(err, &ug) {
			return Verdict{Kind: Block, Message: fmt.Sprintf("group %q: no such runner group in organisation %s", ug.Group, ug.Org), Config: true}
		}
		return Verdict{Kind: Block, Message: "group: no such runner group in the organisation", Config: true}
	case errors.Is(err, github.ErrRateLimited):
		return Verdict{Kind: Wait, Message: rateLimitMessage(err)}
	}
	return Verdict{Kind: Retry}
}

func describePath(path string) string {
	if (Settings{Path: path}).IsRepository() {
		return "repository " + path
	}
	return "organisation " + path
}

// rateLimitMessage says when the limit in err lifts.
func rateLimitMessage(err error) string {
	var rl *github.RateLimitError
	if !errors.As(err, &rl) {
		return "GitHub rate limit reached; retrying at the next reconcile"
	}
	reset := rl.Reset
	if reset.IsZero() && rl.RetryAfter > 0 {
		reset = time.Now().Add(rl.RetryAfter)
	}
	if reset.IsZero() {
		return "GitHub rate limit reached; retrying at the next reconcile"
	}
	return "GitHub rate limit reached; resumes at " + formatResumeTime(reset.UTC())
}

// formatResumeTime writes t, rounded up to the minute, as 14:05 UTC, with
// the date when it is not within the next day.
func formatResumeTime(t time.Time) string {
	if r := t.Truncate(time.Minute); r.Before(t) {
		t = r.Add(time.Minute)
	}
	if time.Until(t) > 20*time.Hour {
		return t.Format("2006-01-02 15:04 UTC")
	}
	return t.Format("15:04 UTC")
}
