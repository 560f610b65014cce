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

// Scope is where runners are registered: an enterprise, an organization, or
// one repository of an owner (a user or an organization). The zero Scope is
// invalid; get one from ParsePath.
type Scope struct {
	owner string
	repo  string
	// enterprise is the enterprise's slug for an enterprise scope; owner
	// and repo are then empty.
	enterprise string
}

// EnterprisePrefix starts a path that names an enterprise:
// `enterprise:<slug>`, the slug as in https://github.com/enterprises/<slug>.
const EnterprisePrefix = "enterprise:"

// Name-length limits GitHub enforces.
const (
	maxOwnerLen = 39
	maxRepoLen  = 100
)

// ParsePath parses the charm's `path` setting: `org` for organization runners,
// `owner/repo` for repository runners, or `enterprise:<slug>` for enterprise
// runners (serving the enterprise's organizations). Surrounding white space is ignored;
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
	case strings.HasPrefix(p, EnterprisePrefix):
		slug := strings.TrimPrefix(p, EnterprisePrefix)
		if reason := checkEnterprise(slug); reason != "" {
			return fail("%s", reason)
		}
		return Scope{enterprise: slug}, nil
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

// checkEnterprise checks an enterprise slug: GitHub makes it of the
// enterprise's name in lower-case letters, digits and single hyphens.
func checkEnterprise(slug string) string {
	switch {
	case slug == "":
		return "the enterprise slug is empty; want enterprise:<slug>"
	case len(slug) > maxRepoLen:
		return fmt.Sprintf("enterprise slug %q is longer than %d characters", slug, maxRepoLen)
	case slug[0] == '-' || slug[len(slug)-1] == '-':
		return fmt.Sprintf("enterprise slug %q must not start or end with a hyphen", slug)
	}
	for _, r := range slug {
		if !('a' <= r && r <= 'z') && !('0' <= r && r <= '9') && r != '-' {
			return fmt.Sprintf("enterprise slug %q may hold only lower-case letters, digits and hyphens, not %q", slug, r)
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
func (s Scope) IsOrg() bool { return s.owner != "" && s.repo == "" }

// IsEnterprise reports whether the scope is an enterprise.
func (s Scope) IsEnterprise() bool { return s.enterprise != "" }

// Enterprise is the enterprise's slug, or "" for another scope.
func (s Scope) Enterprise() string { return s.enterprise }

// IsZero reports whether s is the zero Scope (not parsed from anything).
func (s Scope) IsZero() bool { return s.owner == "" && s.enterprise == "" }

// hasGroups reports whether the scope has runner groups: organizations and
// enterprises do, a repository's runners are all in its default group.
func (s Scope) hasGroups() bool { return s.repo == "" }

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

// String gives the path back in its canonical form: `org`, `owner/repo` or
// `enterprise:<slug>`.
func (s Scope) String() string {
	if s.IsEnterprise() {
		return EnterprisePrefix + s.enterprise
	}
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
	if s.IsEnterprise() {
		return method + " /enterprises/{enterprise}" + rest
	}
	if s.IsOrg() {
		return method + " /orgs/{org}" + rest
	}
	return method + " /repos/{owner}/{repo}" + rest
}

// webPath is the scope's path on GitHub's web site, which the runner
// application registers at: `org`, `owner/repo` or `enterprises/<slug>`.
func (s Scope) webPath() string {
	if s.IsEnterprise() {
		return "enterprises/" + s.enterprise
	}
	return s.String()
}

// groupOwner names the organization or enterprise whose runner groups a
// scope uses, for messages.
func (s Scope) groupOwner() string {
	if s.IsEnterprise() {
		return s.String()
	}
	return s.owner
}
