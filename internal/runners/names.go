package runners

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Instance config keys that mark what the manager owns. Every instance it
// creates carries them; every query filters on them as well as on the name.
const (
	KeyApp         = "user.github-runner.app"
	KeyUnit        = "user.github-runner.unit"
	KeyRole        = "user.github-runner.role"
	KeyInstalledAt = "user.github-runner.installed-at"
	KeyGitHubID    = "user.github-runner.github-id"

	RoleRunner  = "runner"
	RoleBuilder = "builder"
)

// builderInfix sits between the prefix and the suffix of a builder's name.
const builderInfix = "build-"

// maxNameLen is LXD's limit for an instance name (a hostname label).
const maxNameLen = 63

// suffixLen is the length of the random hex that ends every runner name.
const suffixLen = 8

var (
	appNameRe = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	unitRe    = regexp.MustCompile(`^([a-z][a-z0-9]*(?:-[a-z0-9]+)*)/([0-9]+)$`)
)

// Owner names the unit that owns a set of runners.
type Owner struct {
	App  string // Juju application name, e.g. github-runner
	Unit string // unit name, e.g. github-runner/0
	// prefix starts every runner name of this unit.
	prefix string
	nameRe *regexp.Regexp
}

// NewOwner checks app and unit (as Juju names them) and derives the runner
// name prefix `<app>-<n>-`. An application name too long to leave room for
// the unit number and the random suffix within LXD's 63 characters is cut
// and given a short hash of the whole name, so names stay valid and distinct.
func NewOwner(app, unit string) (Owner, error) {
	if !appNameRe.MatchString(app) {
		return Owner{}, fmt.Errorf("invalid application name %q", app)
	}
	m := unitRe.FindStringSubmatch(unit)
	if m == nil || m[1] != app {
		return Owner{}, fmt.Errorf("invalid unit name %q for application %q", unit, app)
	}
	if _, err := strconv.Atoi(m[2]); err != nil {
		return Owner{}, fmt.Errorf("invalid unit name %q: %w", unit, err)
	}
	appPart := app
	tail := "-" + m[2] + "-"
	// Leave room for the longest name made from the prefix: a builder's.
	if room := maxNameLen - suffixLen - len(builderInfix) - len(tail); len(app) > room {
		sum := sha256.Sum256([]byte(app))
		h := hex.EncodeToString(sum[:])[:6]
		appPart = strings.TrimRight(app[:room-len(h)-1], "-") + "-" + h
	}
	prefix := appPart + tail
	return Owner{
		App:    app,
		Unit:   unit,
		prefix: prefix,
		nameRe: regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + "[0-9a-f]{" + strconv.Itoa(suffixLen) + "}$"),
	}, nil
}

// Prefix is what every runner name of this unit starts with.
func (o Owner) Prefix() string { return o.prefix }

// NewName returns a fresh runner name: the prefix and random hex.
func (o Owner) NewName() string {
	b := make([]byte, suffixLen/2)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("cannot read random bytes: %v", err))
	}
	return o.prefix + hex.EncodeToString(b)
}

// OwnsName says whether name is exactly a runner name of this unit. The fixed
// suffix keeps app `a` unit 1 (`a-1-…`) apart from app `a-1` (`a-1-0-…`).
func (o Owner) OwnsName(name string) bool { return o.nameRe.MatchString(name) }

// Keys are the ownership config keys put on every instance of this unit.
func (o Owner) Keys(role string) map[string]string {
	return map[string]string{KeyApp: o.App, KeyUnit: o.Unit, KeyRole: role}
}

// OwnsInstance says whether an instance with this name and config is one of
// this unit's instances of the given role: both the keys and, for runners,
// the name must match.
func (o Owner) OwnsInstance(name string, config map[string]string, role string) bool {
	if config[KeyApp] != o.App || config[KeyUnit] != o.Unit || config[KeyRole] != role {
		return false
	}
	return role != RoleRunner || o.OwnsName(name)
}

// ImageAlias is the default alias of this unit's runner image.
func (o Owner) ImageAlias() string { return o.prefix + "image" }

// builderName returns a fresh name for an image builder instance.
func (o Owner) builderName() string {
	n := o.NewName()
	return o.prefix + builderInfix + n[len(o.prefix):]
}
