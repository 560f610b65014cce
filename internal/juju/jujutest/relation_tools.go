package jujutest

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	"charm.example/github-runner/internal/juju/jujutest/hooktool"
)

// relationFlag is the -r flag of the relation tools.
var relationFlag = flagSpec{names: []string{"r", "relation"}}

// appFlag is their --app flag.
var appFlag = flagSpec{names: []string{"app"}, isBool: true}

// visibleRelationLocked is a relation the hook can see: every relation,
// including one whose -broken hook is running, but none already gone.
func (s *Sim) visibleRelationLocked(id int) (*relation, bool) {
	r, ok := s.relations[id]
	return r, ok
}

// hookRelation resolves -r (or the hook's own relation) as Juju's
// relationIdValue does: `<name>:<n>` or `<n>`; a bad value is a usage
// error naming the flag; no relation at all is `no relation id specified`.
func (s *Sim) hookRelation(hc *hookContext, c *cmdLine) (*relation, error) {
	value, given := c.str("r")
	if !given {
		if hc.relation == nil {
			return nil, usagef("no relation id specified")
		}
		r, ok := s.visibleRelationLocked(hc.relation.id)
		if !ok {
			return nil, usagef("no relation id specified")
		}
		return r, nil
	}
	num := value
	if i := strings.LastIndex(num, ":"); i >= 0 {
		num = num[i+1:]
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return nil, usagef("invalid value %q for flag -r: invalid relation id", value)
	}
	r, ok := s.visibleRelationLocked(n)
	if !ok {
		return nil, usagef("invalid value %q for flag -r: relation not found", value)
	}
	return r, nil
}

func (s *Sim) relationIDs(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{formatFlag}, req.Args)
	if err != nil {
		return nil, err
	}
	if err := checkFormat(c, "smart", "smart", "json", "yaml"); err != nil {
		return nil, err
	}
	name := ""
	if hc.relation != nil {
		if r, ok := s.visibleRelationLocked(hc.relation.id); ok {
			name = r.endpoint
		}
	}
	if len(c.pos) > 0 {
		name = c.pos[0]
		if err := unrecognized(c.pos[1:]); err != nil {
			return nil, err
		}
	} else if name == "" {
		return nil, usagef("no relation name specified")
	}
	ids := []string{}
	for _, r := range s.relations {
		if r.endpoint == name {
			ids = append(ids, r.fakeID())
		}
	}
	sort.Strings(ids)
	return render(c.format("smart"), ids)
}

// relationReadArgs parses the flags relation-list and relation-get share
// (--format, -r, --app) and finds the relation they name.
func (s *Sim) relationReadArgs(hc *hookContext, req hooktool.Request) (*cmdLine, *relation, error) {
	c, err := parseArgs([]flagSpec{formatFlag, relationFlag, appFlag}, req.Args)
	if err != nil {
		return nil, nil, err
	}
	if err := checkFormat(c, "smart", "smart", "json", "yaml"); err != nil {
		return nil, nil, err
	}
	r, err := s.hookRelation(hc, c)
	if err != nil {
		return nil, nil, err
	}
	return c, r, nil
}

func (s *Sim) relationList(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, r, err := s.relationReadArgs(hc, req)
	if err != nil {
		return nil, err
	}
	if err := unrecognized(c.pos); err != nil {
		return nil, err
	}
	if c.flag("app") {
		return render(c.format("smart"), r.remoteApp)
	}
	return render(c.format("smart"), r.unitNames())
}

func (s *Sim) relationGet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, r, err := s.relationReadArgs(hc, req)
	if err != nil {
		return nil, err
	}
	pos := c.pos
	key := ""
	if len(pos) > 0 {
		if key = pos[0]; key == "-" {
			key = ""
		}
		pos = pos[1:]
	}
	app := c.flag("app")
	owner := ""
	// Juju's determineUnitOrAppName.
	switch {
	case len(pos) > 0:
		owner, pos = pos[0], pos[1:]
		if app && unitNameRe.MatchString(owner) {
			owner, _, _ = strings.Cut(owner, "/")
		}
	case app:
		if hc.relation == nil {
			return nil, usagef("no unit or application specified")
		}
		owner = r.remoteApp
	case hc.relation != nil && hc.relation.remoteUnit != "":
		owner = hc.relation.remoteUnit
	case hc.relation != nil:
		owner, app = r.remoteApp, true
	default:
		return nil, usagef("no unit or application specified")
	}
	if err := unrecognized(pos); err != nil {
		return nil, err
	}
	data, err := s.readRelationData(hc, r, owner, app)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return render(c.format("smart"), data)
	}
	if v, ok := data[key]; ok {
		return render(c.format("smart"), v)
	}
	return render(c.format("smart"), nil)
}

// readRelationData is one databag as relation-get sees it: this side's
// from the hook's working copy (its own writes included), the remote
// side's from the controller.
func (s *Sim) readRelationData(hc *hookContext, r *relation, owner string, app bool) (map[string]string, error) {
	local := hc.relData[r.id]
	switch {
	case !app && owner == s.unit:
		return maps.Clone(local.unit), nil
	case app && owner == s.AppName():
		if !s.leader {
			return nil, errors.New("permission denied")
		}
		return maps.Clone(local.app), nil
	case app && owner == r.remoteApp:
		return maps.Clone(r.remoteAppData), nil
	case app:
		return nil, fmt.Errorf("cannot read settings for application %q in relation %q: permission denied", owner, r.key(s.AppName()))
	}
	if d, ok := r.remoteUnits[owner]; ok {
		return maps.Clone(d), nil
	}
	if d, ok := r.departed[owner]; ok {
		return maps.Clone(d), nil
	}
	if !unitNameRe.MatchString(owner) {
		return nil, fmt.Errorf("cannot read settings for unit %q in relation %q: %q is not a valid unit name", owner, r.key(s.AppName()), owner)
	}
	return nil, fmt.Errorf("cannot read settings for unit %q in relation %q: unit %q: settings not found", owner, r.key(s.AppName()), owner)
}

func (s *Sim) relationSet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	// --format is accepted and ignored, as Juju does (it is deprecated there).
	c, err := parseArgs([]flagSpec{relationFlag, appFlag, {names: []string{"file"}}, formatFlag}, req.Args)
	if err != nil {
		return nil, err
	}
	r, err := s.hookRelation(hc, c)
	if err != nil {
		return nil, err
	}
	values, err := toolValues(c, req)
	if err != nil {
		return nil, err
	}
	local := hc.relData[r.id]
	bag := local.unit
	if c.flag("app") {
		if !s.leader {
			return nil, errors.New("cannot write relation settings")
		}
		bag = local.app
	}
	for k, v := range values {
		if v == "" {
			delete(bag, k)
		} else {
			bag[k] = v
		}
	}
	return nil, nil
}
