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
	KeyModel       = "user.github-runner.model"
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

// modelLen is the length of the model's hash in a runner name.
const modelLen = 6

var (
	appNameRe = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	unitRe    = regexp.MustCompile(`^([a-z][a-z0-9]*(?:-[a-z0-9]+)*)/([0-9]+)$`)
)

// Owner names the unit that owns a set of runners.
type Owner struct {
	App  string // Juju application name, e.g. github-runner
	Unit string // unit name, e.g. github-runner/0
	// Model is the Juju model's UUID, "" outside Juju. Two models may have
	// applications of the same name in one organisation: the model is part
	// of every name and of the instance keys, so each sees only its own.
	Model string
	// prefix starts every runner name of this unit, legacyPrefix every
	// name it gave before the model was part of names.
	prefix, legacyPrefix string
	nameRe               *regexp.Regexp
	// legacyRe matches the names given before the model was part of them
	// (`<app>-<n>-<hex>`), unitRe the names of this application's unit in
	// any model and the legacy ones.
	legacyRe, unitRe *regexp.Regexp
}

// NewOwner is NewOwnerInModel outside a model: names `<app>-<n>-<hex>`.
func NewOwner(app, unit string) (Owner, error) { return NewOwnerInModel(app, unit, "") }

// NewOwnerInModel checks app and unit (as Juju names them) and derives the
// runner name prefix `<app>-<n>-<model>-`, where <model> is a short hash of
// the model's UUID (left out when model is ""). An application name too
// long to leave room for the rest within LXD's 63 characters is cut and
// given a short hash of the whole name, so names stay valid and distinct.
func NewOwnerInModel(app, unit, model string) (Owner, error) {
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
	tail := "-" + m[2] + "-"
	// Leave room for the longest name made from the prefix: a builder's.
	legacyPart := cutAppName(app, maxNameLen-suffixLen-len(builderInfix)-len(tail))
	appPart := cutAppName(app, maxNameLen-suffixLen-len(builderInfix)-len(tail)-modelLen-1)
	suffix := "[0-9a-f]{" + strconv.Itoa(suffixLen) + "}$"
	o := Owner{
		App:          app,
		Unit:         unit,
		Model:        model,
		prefix:       legacyPart + tail,
		legacyPrefix: legacyPart + tail,
		legacyRe:     regexp.MustCompile("^" + regexp.QuoteMeta(legacyPart+tail) + suffix),
		unitRe:       regexp.MustCompile("^" + regexp.QuoteMeta(appPart+tail) + "([0-9a-f]{" + strconv.Itoa(modelLen) + "}-)?" + suffix),
	}
	if model != "" {
		sum := sha256.Sum256([]byte(model))
		o.prefix = appPart + tail + hex.EncodeToString(sum[:])[:modelLen] + "-"
	}
	o.nameRe = regexp.MustCompile("^" + regexp.QuoteMeta(o.prefix) + suffix)
	return o, nil
}

// cutAppName returns app, or when longer than room, app cut with a short
// hash of the whole name.
func cutAppName(app string, room int) string {
	if len(app) <= room {
		return app
	}
	sum := sha256.Sum256([]byte(app))
	h := hex.EncodeToString(sum[:])[:6]
	return strings.TrimRight(app[:room-len(h)-1], "-") + "-" + h
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

// OwnsLegacyName says whether name is a runner name this unit gave before
// the model was part of names. Alone it does not make a runner this
// unit's: another model's unit of the same name gave the same names.
func (o Owner) OwnsLegacyName(name string) bool {
	return o.Model != "" && o.legacyRe.MatchString(name)
}

// OwnsUnitName says whether name is a runner name of this application's
// unit, of any model or of none: enough to react to, never to remove.
func (o Owner) OwnsUnitName(name string) bool {
	return o.nameRe.MatchString(name) || o.legacyRe.MatchString(name) || o.unitRe.MatchString(name)
}

// ListPrefix starts every name OwnsName and OwnsLegacyName accept.
func (o Owner) ListPrefix() string {
	p, q := o.prefix, o.legacyPrefix
	n := 0
	for n < len(p) && n < len(q) && p[n] == q[n] {
		n++
	}
	return p[:n]
}

// Keys are the ownership config keys put on every instance of this unit.
func (o Owner) Keys(role string) map[string]string {
	k := map[string]string{KeyApp: o.App, KeyUnit: o.Unit, KeyRole: role}
	if o.Model != "" {
		k[KeyModel] = o.Model
	}
	return k
}

// legacyKeys are the keys put on instances before the model was one.
func (o Owner) legacyKeys(role string) map[string]string {
	return map[string]string{KeyApp: o.App, KeyUnit: o.Unit, KeyRole: role}
}

// OwnsInstance says whether an instance with this name and config is one of
// this unit's instances of the given role: both the keys and, for runners,
// the name must match.
func (o Owner) OwnsInstance(name string, config map[string]string, role string) bool {
	if config[KeyApp] != o.App || config[KeyUnit] != o.Unit || config[KeyRole] != role || config[KeyModel] != o.Model {
		return false
	}
	return role != RoleRunner || o.OwnsName(name)
}

// OwnsLegacyInstance says whether an instance is one this unit made before
// the model was part of names and keys: this application's and unit's
// keys, no model key, a legacy name. An upgraded unit keeps such runners
// as its own (on its own LXD) until they finish.
func (o Owner) OwnsLegacyInstance(name string, config map[string]string, role string) bool {
	if o.Model == "" || config[KeyModel] != "" {
		return false
	}
	if config[KeyApp] != o.App || config[KeyUnit] != o.Unit || config[KeyRole] != role {
		return false
	}
	return role != RoleRunner || o.legacyRe.MatchString(name)
}

// ImageAlias is the default alias of this unit's runner image.
func (o Owner) ImageAlias() string { return o.prefix + "image" }

// legacyImageAlias is the default alias before the model was in names.
func (o Owner) legacyImageAlias() string { return o.legacyPrefix + "image" }

// builderName returns a fresh name for an image builder instance.
func (o Owner) builderName() string {
	n := o.NewName()
	return o.prefix + builderInfix + n[len(o.prefix):]
}
