package pool

import (
	"errors"
	"fmt"
	"strings"
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
	// AppID is the `app-id` option when the pool authenticates as a
	// GitHub App, 0 with a token.
	AppID int64
	Err   error
}

// Error is the cause's message.
func (e *GitHubError) Error() string { return e.Err.Error() }

// Unwrap gives the cause.
func (e *GitHubError) Unwrap() error { return e.Err }

// NeededScope is the classic token scope the runner API needs for path: `repo`
// for a repository, `admin:org` for an organisation,
// `manage_runners:enterprise` for an enterprise.
func NeededScope(path string) string {
	switch s := (Settings{Path: path}); {
	case s.IsEnterprise():
		return "manage_runners:enterprise"
	case s.IsRepository():
		return "repo"
	}
	return "admin:org"
}

// NeededAppPermission is the GitHub App permission the runner API needs
// for path, as GitHub's App settings page names it.
func NeededAppPermission(path string) string {
	if (Settings{Path: path}).IsRepository() {
		return `the repository permission "Administration" (read and write)`
	}
	return `the organisation permission "Self-hosted runners" (read and write)`
}

// Classify decides how err is treated. The first match wins:
//
//   - *config.Error: Block, naming the bad options;
//   - *BlockedError: Block, with its message;
//   - *runners.MissingPackagesError: Block, naming image-packages and the packages apt cannot find;
//   - GitHub refused the App an installation token: Block, naming
//     app-private-key (401), app-installation-id (404, 403);
//   - as an App, a refused runner call: Block, naming app-id and the
//     permission the App lacks (403), or the path (404);
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
	path, app := "", int64(0)
	var gerr *GitHubError
	if errors.As(err, &gerr) {
		path, app = gerr.Path, gerr.AppID
	}
	var ite *github.InstallationTokenError
	if errors.As(err, &ite) {
		if v, ok := classifyInstallationToken(ite); ok {
			return v
		}
	}
	if app != 0 {
		if v, ok := classifyApp(err, path, app); ok {
			return v
		}
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
	switch s := (Settings{Path: path}); {
	case s.IsEnterprise():
		return "enterprise " + strings.TrimPrefix(path, github.EnterprisePrefix)
	case s.IsRepository():
		return "repository " + path
	}
	return "organisation " + path
}

// classifyInstallationToken is the verdict for GitHub refusing the App an
// installation token.
func classifyInstallationToken(ite *github.InstallationTokenError) (Verdict, bool) {
	switch {
	case errors.Is(ite, github.ErrBadCredentials):
		return Verdict{Kind: Block, Message: fmt.Sprintf(
			"app-private-key: rejected by GitHub (bad credentials): is it the private key of app-id %d?", ite.AppID)}, true
	case errors.Is(ite, github.ErrNotFound):
		return Verdict{Kind: Block, Message: fmt.Sprintf(
			"app-installation-id %d: GitHub knows no such installation of app-id %d", ite.InstallationID, ite.AppID)}, true
	case errors.Is(ite, github.ErrForbidden):
		return Verdict{Kind: Block, Message: fmt.Sprintf(
			"app-installation-id %d: GitHub refuses installation tokens for it (is the installation suspended?)", ite.InstallationID)}, true
	}
	return Verdict{}, false
}

// classifyApp is the verdict for GitHub refusing a runner call made as an
// App installation.
func classifyApp(err error, path string, app int64) (Verdict, bool) {
	switch {
	case errors.Is(err, github.ErrBadCredentials):
		return Verdict{Kind: Block, Message: fmt.Sprintf("app-id %d: GitHub refused a fresh installation token (bad credentials)", app)}, true
	case errors.Is(err, github.ErrForbidden):
		return Verdict{Kind: Block, Message: fmt.Sprintf("app-id %d: missing permission: the App needs %s for %s",
			app, NeededAppPermission(path), describePath(path))}, true
	case errors.Is(err, github.ErrNotFound):
		return Verdict{Kind: Block, Message: fmt.Sprintf("path %q: not found or not visible to the App's installation", path)}, true
	}
	return Verdict{}, false
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
