package jujutest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/juju/charm/v12"
)

// Relation hook kinds, the suffix of `<endpoint>-relation-<kind>`, in the
// order Juju runs them over a relation's life.
const (
	RelationCreated  = "relation-created"
	RelationJoined   = "relation-joined"
	RelationChanged  = "relation-changed"
	RelationDeparted = "relation-departed"
	RelationBroken   = "relation-broken"
)

// RelationOptions describe a relation to a remote application, as the
// operator makes it with `juju integrate`.
type RelationOptions struct {
	// Endpoint is this charm's endpoint, from metadata.yaml's provides or
	// requires (peer relations are not simulated).
	Endpoint string
	// RemoteApp is the application at the other end, such as grafana-agent.
	RemoteApp string
	// RemoteEndpoint is its endpoint's name; default Endpoint.
	RemoteEndpoint string
	// RemoteAppData is the remote application's databag, as its leader set it.
	RemoteAppData map[string]string
	// RemoteUnits are the remote units in the relation (each
	// <RemoteApp>/<n>) and their databags. Juju adds private-address,
	// ingress-address and egress-subnets to each unless given. For a
	// subordinate relation such as cos-agent, a principal sees only the one
	// subordinate unit on its machine.
	RemoteUnits map[string]map[string]string
}

// RelationData is a relation as the controller holds it: the committed
// databags of both sides.
type RelationData struct {
	// ID is the relation's id as the tools name it: `<endpoint>:<n>`.
	ID string
	// Endpoint is this charm's endpoint; RemoteApp and RemoteEndpoint the other side's.
	Endpoint, RemoteApp, RemoteEndpoint string
	// Unit is this unit's databag, App this application's (written by the leader).
	Unit, App map[string]string
	// RemoteAppData is the remote application's databag.
	RemoteAppData map[string]string
	// RemoteUnits are the remote units in the relation and their databags.
	RemoteUnits map[string]map[string]string
}

// RelationHook names one run of a relation hook.
type RelationHook struct {
	// RelationID is the relation, `<endpoint>:<n>`.
	RelationID string
	// Kind is RelationCreated, RelationJoined, RelationChanged,
	// RelationDeparted or RelationBroken.
	Kind string
	// RemoteUnit is JUJU_REMOTE_UNIT: the unit a -joined, -changed or
	// -departed hook is about; empty for -created, -broken and a -changed
	// about the remote application's databag.
	RemoteUnit string
}

type relation struct {
	id             int
	endpoint       string
	role           charm.RelationRole
	remoteApp      string
	remoteEndpoint string
	unit, app      map[string]string // this side's committed databags
	remoteAppData  map[string]string
	remoteUnits    map[string]map[string]string // in scope
	departed       map[string]map[string]string // left scope; still readable
	broken         bool                         // its -broken hook has begun
}

func (r *relation) fakeID() string { return fmt.Sprintf("%s:%d", r.endpoint, r.id) }

// key is Juju's relation key: both endpoints, the requirer first.
func (r *relation) key(localApp string) string {
	local := localApp + ":" + r.endpoint
	remote := r.remoteApp + ":" + r.remoteEndpoint
	if r.role == charm.RoleRequirer {
		return local + " " + remote
	}
	return remote + " " + local
}

func (r *relation) unitNames() []string { return sortedKeys(r.remoteUnits) }

func (r *relation) snapshot() RelationData {
	units := make(map[string]map[string]string, len(r.remoteUnits))
	for u, d := range r.remoteUnits {
		units[u] = maps.Clone(d)
	}
	return RelationData{
		ID: r.fakeID(), Endpoint: r.endpoint, RemoteApp: r.remoteApp, RemoteEndpoint: r.remoteEndpoint,
		Unit: maps.Clone(r.unit), App: maps.Clone(r.app), RemoteAppData: maps.Clone(r.remoteAppData),
		RemoteUnits: units,
	}
}

// relationHookContext is what a relation hook adds to its context.
type relationHookContext struct {
	id            int
	remoteUnit    string
	departingUnit string
}

// appNameRe is Juju's application name.
var appNameRe = regexp.MustCompile(`^[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*$`)

// AddRelation records a relation as if it had been established before the
// test began: no hook runs (see Relate). It returns the relation's id.
func (s *Sim) AddRelation(opts RelationOptions) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.newRelationLocked(opts)
	if err != nil {
		return "", err
	}
	for u, d := range opts.RemoteUnits {
		r.remoteUnits[u] = withAddresses(d, remoteAddress(u))
	}
	return r.fakeID(), nil
}

// newRelationLocked checks opts and adds the relation, with no remote unit
// in it yet.
func (s *Sim) newRelationLocked(opts RelationOptions) (*relation, error) {
	var spec charm.Relation
	if rel, ok := s.meta.Provides[opts.Endpoint]; ok {
		spec = rel
	} else if rel, ok := s.meta.Requires[opts.Endpoint]; ok {
		spec = rel
	} else if _, ok := s.meta.Peers[opts.Endpoint]; ok {
		return nil, fmt.Errorf("jujutest: peer relations are not simulated (endpoint %q)", opts.Endpoint)
	} else {
		return nil, fmt.Errorf("charm %q has no relation endpoint %q", s.meta.Name, opts.Endpoint)
	}
	if !appNameRe.MatchString(opts.RemoteApp) {
		return nil, fmt.Errorf("jujutest: remote application name %q is not valid", opts.RemoteApp)
	}
	for u := range opts.RemoteUnits {
		if app, _, _ := strings.Cut(u, "/"); app != opts.RemoteApp || !unitNameRe.MatchString(u) {
			return nil, fmt.Errorf("jujutest: remote unit %q is not a unit of %q", u, opts.RemoteApp)
		}
	}
	if spec.Limit > 0 {
		n := 0
		for _, r := range s.relations {
			if r.endpoint == opts.Endpoint {
				n++
			}
		}
		if n >= spec.Limit {
			return nil, fmt.Errorf("establishing a new relation for %s:%s would exceed its maximum relation limit of %d",
				s.AppName(), opts.Endpoint, spec.Limit)
		}
	}
	addr := cmpOr(s.opts.PrivateAddress, "10.0.0.10")
	r := &relation{
		id:             s.nextRelation,
		endpoint:       opts.Endpoint,
		role:           spec.Role,
		remoteApp:      opts.RemoteApp,
		remoteEndpoint: cmpOr(opts.RemoteEndpoint, opts.Endpoint),
		unit:           withAddresses(nil, addr),
		app:            map[string]string{},
		remoteAppData:  maps.Clone(opts.RemoteAppData),
		remoteUnits:    map[string]map[string]string{},
		departed:       map[string]map[string]string{},
	}
	if r.remoteAppData == nil {
		r.remoteAppData = map[string]string{}
	}
	s.nextRelation++
	s.relations[r.id] = r
	return r, nil
}

// withAddresses adds the address keys Juju sets in a unit's databag when
// it enters a relation, unless they are there.
func withAddresses(data map[string]string, addr string) map[string]string {
	out := maps.Clone(data)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range map[string]string{"private-address": addr, "ingress-address": addr, "egress-subnets": addr + "/32"} {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

// remoteAddress is a stable address for a remote unit: 10.0.1.<n+1>.
func remoteAddress(unit string) string {
	_, num, _ := strings.Cut(unit, "/")
	n, _ := strconv.Atoi(num)
	return fmt.Sprintf("10.0.1.%d", n%250+1)
}

// AppName is the application's name: the unit name's first part.
func (s *Sim) AppName() string {
	app, _, _ := strings.Cut(s.unit, "/")
	return app
}

// Relate is `juju integrate`: it adds the relation and runs the hooks Juju
// runs, in Juju's order: <endpoint>-relation-created, then for each remote
// unit (in name order) -joined and -changed, then a -changed for the
// remote application's databag if it holds anything. It stops at the first
// hook that fails (a *HookFailedError) and returns the relation's id.
func (s *Sim) Relate(ctx context.Context, opts RelationOptions) (string, error) {
	s.mu.Lock()
	r, err := s.newRelationLocked(opts) // units join below, one by one
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	id := r.fakeID()
	if _, err := s.RunRelationHook(ctx, RelationHook{RelationID: id, Kind: RelationCreated}); err != nil {
		return id, err
	}
	for _, u := range sortedKeys(opts.RemoteUnits) {
		if err := s.JoinUnit(ctx, id, u, opts.RemoteUnits[u]); err != nil {
			return id, err
		}
	}
	if len(opts.RemoteAppData) > 0 {
		if _, err := s.RunRelationHook(ctx, RelationHook{RelationID: id, Kind: RelationChanged}); err != nil {
			return id, err
		}
	}
	return id, nil
}

// JoinUnit is a remote unit entering the relation: -joined, then -changed,
// with JUJU_REMOTE_UNIT set to it.
func (s *Sim) JoinUnit(ctx context.Context, relationID, unit string, data map[string]string) error {
	err := s.withRelation(relationID, func(r *relation) error {
		if app, _, _ := strings.Cut(unit, "/"); app != r.remoteApp || !unitNameRe.MatchString(unit) {
			return fmt.Errorf("jujutest: remote unit %q is not a unit of %q", unit, r.remoteApp)
		}
		if _, ok := r.remoteUnits[unit]; ok {
			return fmt.Errorf("jujutest: unit %q is already in relation %s", unit, relationID)
		}
		r.remoteUnits[unit] = withAddresses(data, remoteAddress(unit))
		delete(r.departed, unit)
		return nil
	})
	if err != nil {
		return err
	}
	for _, kind := range []string{RelationJoined, RelationChanged} {
		if _, err := s.RunRelationHook(ctx, RelationHook{RelationID: relationID, Kind: kind, RemoteUnit: unit}); err != nil {
			return err
		}
	}
	return nil
}

// SetRemoteUnitData replaces a remote unit's databag, then runs -changed
// for that unit.
func (s *Sim) SetRemoteUnitData(ctx context.Context, relationID, unit string, data map[string]string) error {
	err := s.withRelation(relationID, func(r *relation) error {
		if _, ok := r.remoteUnits[unit]; !ok {
			return fmt.Errorf("jujutest: unit %q is not in relation %s", unit, relationID)
		}
		r.remoteUnits[unit] = maps.Clone(data)
		if r.remoteUnits[unit] == nil {
			r.remoteUnits[unit] = map[string]string{}
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = s.RunRelationHook(ctx, RelationHook{RelationID: relationID, Kind: RelationChanged, RemoteUnit: unit})
	return err
}

// SetRemoteAppData replaces the remote application's databag, then runs a
// -changed with no remote unit, as Juju does for application data.
func (s *Sim) SetRemoteAppData(ctx context.Context, relationID string, data map[string]string) error {
	err := s.withRelation(relationID, func(r *relation) error {
		r.remoteAppData = maps.Clone(data)
		if r.remoteAppData == nil {
			r.remoteAppData = map[string]string{}
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = s.RunRelationHook(ctx, RelationHook{RelationID: relationID, Kind: RelationChanged})
	return err
}

// DepartUnit is a remote unit leaving the relation: it leaves
// relation-list, then -departed runs with JUJU_REMOTE_UNIT and
// JUJU_DEPARTING_UNIT set to it. Its databag stays readable in that hook.
func (s *Sim) DepartUnit(ctx context.Context, relationID, unit string) error {
	err := s.withRelation(relationID, func(r *relation) error {
		d, ok := r.remoteUnits[unit]
		if !ok {
			return fmt.Errorf("jujutest: unit %q is not in relation %s", unit, relationID)
		}
		delete(r.remoteUnits, unit)
		r.departed[unit] = d
		return nil
	})
	if err != nil {
		return err
	}
	_, err = s.RunRelationHook(ctx, RelationHook{RelationID: relationID, Kind: RelationDeparted, RemoteUnit: unit})
	return err
}

// RemoveRelation is `juju remove-relation`: every remote unit departs (in
// name order), then -broken runs, with the relation still listed by
// relation-ids but no units; then the relation is gone.
func (s *Sim) RemoveRelation(ctx context.Context, relationID string) error {
	var units []string
	if err := s.withRelation(relationID, func(r *relation) error {
		units = r.unitNames()
		return nil
	}); err != nil {
		return err
	}
	for _, u := range units {
		if err := s.DepartUnit(ctx, relationID, u); err != nil {
			return err
		}
	}
	if err := s.withRelation(relationID, func(r *relation) error {
		r.broken = true
		return nil
	}); err != nil {
		return err
	}
	if _, err := s.RunRelationHook(ctx, RelationHook{RelationID: relationID, Kind: RelationBroken}); err != nil {
		return err
	}
	return s.withRelation(relationID, func(r *relation) error {
		delete(s.relations, r.id)
		return nil
	})
}

// Relation is one relation's committed data.
func (s *Sim) Relation(relationID string) (RelationData, error) {
	var out RelationData
	err := s.withRelation(relationID, func(r *relation) error {
		out = r.snapshot()
		return nil
	})
	return out, err
}

// Relations are every relation of the unit, by id order.
func (s *Sim) Relations() []RelationData {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.relationsLocked()
}

func (s *Sim) relationsLocked() []RelationData {
	ids := make([]int, 0, len(s.relations))
	for id := range s.relations {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := make([]RelationData, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.relations[id].snapshot())
	}
	return out
}

// ErrNoRelation is returned for a relation id the unit does not have.
var ErrNoRelation = errors.New("jujutest: no such relation")

func (s *Sim) withRelation(relationID string, f func(*relation) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.relationLocked(relationID)
	if err != nil {
		return err
	}
	return f(r)
}

// relationLocked finds a relation by `<endpoint>:<n>` or `<n>`.
func (s *Sim) relationLocked(relationID string) (*relation, error) {
	num := relationID
	if i := strings.LastIndex(num, ":"); i >= 0 {
		num = num[i+1:]
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrNoRelation, relationID)
	}
	r, ok := s.relations[n]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoRelation, relationID)
	}
	return r, nil
}

// RunRelationHook runs one relation hook, `<endpoint>-relation-<kind>`,
// with JUJU_RELATION, JUJU_RELATION_ID, JUJU_REMOTE_APP and
// JUJU_REMOTE_UNIT set, without changing who is in the relation (Relate,
// JoinUnit, DepartUnit and RemoveRelation do that and then run the hooks
// Juju would). A hook that exits non-zero leaves the unit in error and
// returns a *HookFailedError; its relation data writes are dropped.
func (s *Sim) RunRelationHook(ctx context.Context, h RelationHook) (Run, error) {
	spec, err := s.relationSpec(h)
	if err != nil {
		return Run{}, err
	}
	r, err := s.run(ctx, spec)
	if err != nil {
		return r, err
	}
	if r.ExitCode != 0 {
		return r, &HookFailedError{Hook: spec.name, ExitCode: r.ExitCode, Stderr: r.Stderr}
	}
	return r, nil
}

// InRelationContext is InContext for a relation hook: fn runs in the
// context of h, and an error from it counts as exit status 1.
func (s *Sim) InRelationContext(ctx context.Context, h RelationHook, fn func(env []string) error) (Run, error) {
	spec, err := s.relationSpec(h)
	if err != nil {
		return Run{}, err
	}
	spec.fn = fn
	return s.run(ctx, spec)
}

func (s *Sim) relationSpec(h RelationHook) (runSpec, error) {
	switch h.Kind {
	case RelationCreated, RelationJoined, RelationChanged, RelationDeparted, RelationBroken:
	default:
		return runSpec{}, fmt.Errorf("jujutest: %q is not a relation hook kind", h.Kind)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.relationLocked(h.RelationID)
	if err != nil {
		return runSpec{}, err
	}
	needsUnit := h.Kind == RelationJoined || h.Kind == RelationDeparted
	switch {
	case needsUnit && h.RemoteUnit == "":
		return runSpec{}, fmt.Errorf("jujutest: a %s hook needs a remote unit", h.Kind)
	case (h.Kind == RelationCreated || h.Kind == RelationBroken) && h.RemoteUnit != "":
		return runSpec{}, fmt.Errorf("jujutest: a %s hook has no remote unit", h.Kind)
	}
	rh := &relationHookContext{id: r.id, remoteUnit: h.RemoteUnit}
	if h.Kind == RelationDeparted {
		rh.departingUnit = h.RemoteUnit
	}
	name := r.endpoint + "-" + h.Kind
	return runSpec{kind: KindHook, name: name, path: "hooks/" + name, relation: rh}, nil
}

// relationLocalData is a hook's working copy of this side's databags of
// every relation: what relation-set changes, kept only if the hook
// succeeds.
type relationLocalData struct {
	unit, app map[string]string
}

func (s *Sim) cloneRelationDataLocked() map[int]*relationLocalData {
	out := make(map[int]*relationLocalData, len(s.relations))
	for id, r := range s.relations {
		out[id] = &relationLocalData{unit: maps.Clone(r.unit), app: maps.Clone(r.app)}
	}
	return out
}

// commitRelationDataLocked keeps a successful hook's relation writes.
func (s *Sim) commitRelationDataLocked(data map[int]*relationLocalData) {
	for id, d := range data {
		if r, ok := s.relations[id]; ok {
			r.unit, r.app = d.unit, d.app
		}
	}
}
