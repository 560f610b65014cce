package github

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidPath is matched (errors.Is) by every error ParsePath returns.
var ErrInvalidPath = errors.New("invalid GitHub path")

// PathError says why a configured path is not an organization or an
// owner/repo pair. It matches ErrInvalidPath.
type PathError struct {
	// Path is the rejected input.
	Path string
	// Reason is a sentence fragment for a human, such as
	// `organization name "-x" must not start with a hyphen`.
	Reason string
}

// Error implements error.
func (e *PathError) Error() string {
	return fmt.Sprintf("invalid GitHub path %q: %s", e.Path, e.Reason)
}

// Is reports whether target is ErrInvalidPath.
func (e *PathError) Is(target error) bool { return target == ErrInvalidPath }

// Scope is where runners are registered: an organization, or one repository
// of an owner (a user or an organization). The zero Scope is invalid; get one
// from ParsePath.
type Scope struct {
	owner string
	repo  string
}

// Name-length limits GitHub enforces.
const (
	maxOwnerLen = 39
	maxRepoLen  = 100
)

// ParsePath parses the charm's `path` setting: `org` for organization runners
// or `owner/repo` for repository runners. Surrounding white space is ignored;
// anything else that GitHub would not accept as a name is an error matching
// ErrInvalidPath.
//
// Owner and organization names are ASCII letters, digits and single hyphens,
// neither starting nor ending with a hyphen, at most 39 characters. Repository
// names are ASCII letters, digits, '.', '_' and '-', at most 100 characters,
// and neither "." nor "..".
func ParsePath(path string) (Scope, error) {
	p := strings.TrimSpace(path)
	fail := func(format string, args ...any) (Scope, error) {
		return Scope{}, &PathError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case p == "":
		return fail("it is empty; want an organization name or owner/repo")
	case strings.Contains(p, "://") || strings.HasPrefix(p, "github.com/"):
		return fail("want an organization name or owner/repo, not a URL")
	}
	parts := strings.Split(p, "/")
	if len(parts) > 2 {
		return fail("want an organization name or owner/repo, found %d parts separated by '/'", len(parts))
	}
	if reason := checkOwner(parts[0]); reason != "" {
		return fail("%s", reason)
	}
	if len(parts) == 1 {
		return Scope{owner: parts[0]}, nil
	}
	if reason := checkRepo(parts[1]); reason != "" {
		return fail("%s", reason)
	}
	return Scope{owner: parts[0], repo: parts[1]}, nil
}

func checkOwner(name string) string {
	switch {
	case name == "":
		return "the owner or organization name is empty"
	case len(name) > maxOwnerLen:
		return fmt.Sprintf("owner or organization name %q is longer than %d characters", name, maxOwnerLen)
	case name[0] == '-':
		return fmt.Sprintf("owner or organization name %q must not start with a hyphen", name)
	case name[len(name)-1] == '-':
		return fmt.Sprintf("owner or organization name %q must not end with a hyphen", name)
	case strings.Contains(name, "--"):
		return fmt.Sprintf("owner or organization name %q must not contain consecutive hyphens", name)
	}
	for _, r := range name {
		if !isAlnum(r) && r != '-' {
			return fmt.Sprintf("owner or organization name %q may hold only letters, digits and hyphens, not %q", name, r)
		}
	}
	return ""
}

func checkRepo(name string) string {
	switch {
	case name == "":
		return "the repository name is empty"
	case len(name) > maxRepoLen:
		return fmt.Sprintf("repository name %q is longer than %d characters", name, maxRepoLen)
	case name == "." || name == "..":
		return fmt.Sprintf("repository name %q is reserved", name)
	case strings.HasSuffix(strings.ToLower(name), ".git"):
		return fmt.Sprintf("repository name %q must not end in .git; drop the suffix", name)
	}
	for _, r := range name {
		if !isAlnum(r) && r != '-' && r != '_' && r != '.' {
			return fmt.Sprintf("repository name %q may hold only letters, digits, '.', '_' and '-', not %q", name, r)
		}
	}
	return ""
}

func isAlnum(r rune) bool {
	return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
}

// IsOrg reports whether the scope is an organization.
func (s Scope) IsOrg() bool { return s.repo == "" }

// IsZero reports whether s is the zero Scope (not parsed from anything).
func (s Scope) IsZero() bool { return s.owner == "" }

// Org is the organization name, or "" for a repository scope.
func (s Scope) Org() string {
	if s.IsOrg() {
		return s.owner
	}
	return ""
}

// Owner is the organization for an organization scope, or the repository's
// owner for a repository scope.
func (s Scope) Owner() string { return s.owner }

// Repo is the repository name without its owner, or "" for an organization.
func (s Scope) Repo() string { return s.repo }

// String gives the path back in its canonical form: `org` or `owner/repo`.
func (s Scope) String() string {
	if s.IsOrg() {
		return s.owner
	}
	return s.owner + "/" + s.repo
}

// endpoint names one of the scope's runner endpoints the way RequestCounts
// and errors do: endpoint("GET", "/actions/runners") is
// "GET /orgs/{org}/actions/runners" for an organization and
// "GET /repos/{owner}/{repo}/actions/runners" for a repository.
func (s Scope) endpoint(method, rest string) string {
	if s.IsOrg() {
		return method + " /orgs/{org}" + rest
	}
	return method + " /repos/{owner}/{repo}" + rest
}
