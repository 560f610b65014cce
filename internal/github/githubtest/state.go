package githubtest

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultGroupName is the name of every organization's default runner group,
// id 1, as GitHub names it.
const DefaultGroupName = "Default"

// defaultGroupID is the default runner group's id in every scope.
const defaultGroupID = 1

// scopeKind says what a scope is.
type scopeKind int

const (
	kindRepo scopeKind = iota
	kindOrg
	kindEnterprise
)

// enterprisePrefix leads an enterprise's scope path, as in its web URL
// (https://github.com/enterprises/<slug>), which is also the --url a runner
// registers with.
const enterprisePrefix = "enterprises/"

// scope is an organization, a repository or an enterprise.
type scope struct {
	// path is as created: "acme", "acme/website" or "enterprises/acme-corp".
	path string
	kind scopeKind
	id   int64 // the account's or repository's id
	// groups are an organization's or an enterprise's runner groups;
	// groups[0] is the default.
	groups []*group
	// enterprise is the enterprise an organization belongs to, if any;
	// orgs are an enterprise's organizations.
	enterprise *scope
	orgs       []*scope
	createdAt  time.Time
}

// name is the scope's own name: the organization, the repository's
// "owner/repo", or the enterprise's slug.
func (sc *scope) name() string { return strings.TrimPrefix(sc.path, enterprisePrefix) }

// owner is a repository's owner, or an organization's own name.
func (sc *scope) owner() string {
	owner, _, _ := strings.Cut(sc.path, "/")
	return owner
}

// hasGroups reports whether the scope keeps runner groups of its own.
func (sc *scope) hasGroups() bool { return sc.kind != kindRepo }

type group struct {
	id   int64
	name string
}

// runner is a registered runner.
type runner struct {
	id        int64
	name      string
	scope     *scope
	groupID   int64
	os        string // "unknown" until a listener reports it
	arch      string // read-only architecture label: X64, ARM64, ARM
	ephemeral bool
	busy      bool
	job       JobID // the job in progress, 0 if none
	custom    []string
	noDefault bool // registered with --no-default-labels
	version   string
	createdAt time.Time

	// Simulated runners are seeded by tests: their status is what the test
	// set, and the simulator plays their jobs itself.
	simulated    bool
	staticOnline bool

	// Listener-backed runners are online while their listener keeps in
	// touch through a session.
	secret  string
	session *session
	// exitCode, when not 0, is what the listener is told to exit with at
	// its next poll (ExitListener).
	exitCode int
}

type session struct {
	id          string
	lastSeen    time.Time
	activePolls int
}

// online reports the runner's status at now.
func (r *runner) online(now time.Time, offlineAfter time.Duration) bool {
	if r.simulated {
		return r.staticOnline
	}
	if r.session == nil {
		return false
	}
	return r.session.activePolls > 0 || now.Sub(r.session.lastSeen) <= offlineAfter
}

// labels returns the runner's labels: read-only ones first, then custom.
func (r *runner) labels() []labelRef {
	var out []labelRef
	if !r.noDefault {
		osLabel := "Linux"
		switch strings.ToLower(r.os) {
		case "macos", "osx", "darwin":
			osLabel = "macOS"
		case "windows", "win":
			osLabel = "Windows"
		}
		out = append(out,
			labelRef{name: "self-hosted", readOnly: true},
			labelRef{name: osLabel, readOnly: true},
			labelRef{name: r.arch, readOnly: true})
	}
	for _, c := range r.custom {
		out = append(out, labelRef{name: c})
	}
	return out
}

type labelRef struct {
	name     string
	readOnly bool
}

// hasLabels reports whether the runner carries every one of want, ignoring
// case as GitHub does.
func (r *runner) hasLabels(want []string) bool {
	have := make(map[string]bool)
	for _, l := range r.labels() {
		have[strings.ToLower(l.name)] = true
	}
	for _, w := range want {
		if !have[strings.ToLower(w)] {
			return false
		}
	}
	return true
}

// Runner is a snapshot of a runner in the simulator.
type Runner struct {
	ID int64
	// Path is the runner's scope: "org", "owner/repo" or
	// "enterprises/<slug>".
	Path      string
	Name      string
	GroupID   int64
	OS        string
	Status    string // "online" or "offline"
	Busy      bool
	Ephemeral bool
	// Labels are all label names, read-only first.
	Labels []string
	// Version is what the runner's listener reported, "" if it never
	// connected.
	Version string
	// Simulated is true for runners seeded with AddRunner, whose status the
	// test controls.
	Simulated bool
	// JobID is the job the runner is running, 0 if none.
	JobID JobID
}

// Online reports whether the runner is online.
func (r Runner) Online() bool { return r.Status == "online" }

func (s *Server) snapshotLocked(r *runner, now time.Time) Runner {
	out := Runner{
		ID:        r.id,
		Path:      r.scope.path,
		Name:      r.name,
		GroupID:   r.groupID,
		OS:        r.os,
		Status:    "offline",
		Busy:      r.busy,
		Ephemeral: r.ephemeral,
		Version:   r.version,
		Simulated: r.simulated,
		JobID:     r.job,
	}
	if r.online(now, s.opts.OfflineAfter) {
		out.Status = "online"
	}
	for _, l := range r.labels() {
		out.Labels = append(out.Labels, l.name)
	}
	return out
}

// reservedOwner is the first path segment of enterprise web URLs; GitHub
// keeps it from accounts.
const reservedOwner = "enterprises"

// AddOrg creates an organization with its Default runner group (id 1).
// Creating one that exists is not an error.
func (s *Server) AddOrg(name string) error {
	if name == "" || strings.Contains(name, "/") || strings.EqualFold(name, reservedOwner) {
		return fmt.Errorf("invalid organization name %q", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addOrgLocked(name)
	return nil
}

func (s *Server) addOrgLocked(name string) *scope {
	key := strings.ToLower(name)
	if sc, ok := s.scopes[key]; ok {
		return sc
	}
	sc := &scope{path: name, kind: kindOrg, id: s.newAccountIDLocked(), createdAt: s.now(),
		groups: []*group{{id: defaultGroupID, name: DefaultGroupName}}}
	s.scopes[key] = sc
	return sc
}

func (s *Server) newAccountIDLocked() int64 {
	id := s.nextAccountID
	s.nextAccountID++
	return id
}

// AddRepo creates a repository "owner/repo". Creating one that exists is not
// an error.
func (s *Server) AddRepo(path string) error {
	owner, repo, ok := strings.Cut(path, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") || strings.EqualFold(owner, reservedOwner) {
		return fmt.Errorf("invalid repository %q: want owner/repo", path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(path)
	if _, ok := s.scopes[key]; !ok {
		s.scopes[key] = &scope{path: path, kind: kindRepo, id: s.newAccountIDLocked(), createdAt: s.now()}
	}
	return nil
}

// AddEnterprise creates an enterprise account with its Default runner group
// (id 1), and makes orgs (created if need be) its organizations. Its scope
// path, for Runners, AddRunner, QueueJobFor and WebURL, is
// "enterprises/<slug>". Adding one that exists adds the organizations.
//
// An enterprise's runners are in its runner groups; the Default group is
// open to all its organizations, so they take the jobs of those
// organizations and their repositories.
func (s *Server) AddEnterprise(slug string, orgs ...string) error {
	if slug == "" || strings.Contains(slug, "/") {
		return fmt.Errorf("invalid enterprise slug %q", slug)
	}
	for _, o := range orgs {
		if o == "" || strings.Contains(o, "/") || strings.EqualFold(o, reservedOwner) {
			return fmt.Errorf("invalid organization name %q", o)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(enterprisePrefix + slug)
	ent, ok := s.scopes[key]
	if !ok {
		ent = &scope{path: enterprisePrefix + slug, kind: kindEnterprise, id: s.newAccountIDLocked(), createdAt: s.now(),
			groups: []*group{{id: defaultGroupID, name: DefaultGroupName}}}
		s.scopes[key] = ent
	}
	for _, o := range orgs {
		org := s.addOrgLocked(o)
		switch {
		case org.enterprise == ent:
			continue
		case org.enterprise != nil:
			return fmt.Errorf("organization %q belongs to %s", o, org.enterprise.path)
		}
		org.enterprise = ent
		ent.orgs = append(ent.orgs, org)
	}
	return nil
}

// AddRunnerGroup creates a runner group in an organization or an enterprise
// ("enterprises/<slug>") and returns its id; an existing group's id is
// returned as it is.
func (s *Server) AddRunnerGroup(path, name string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.scopes[strings.ToLower(path)]
	if !ok || !sc.hasGroups() {
		return 0, fmt.Errorf("no organization or enterprise %q", path)
	}
	if g := sc.groupByName(name); g != nil {
		return g.id, nil
	}
	id := s.nextGroupID
	s.nextGroupID++
	sc.groups = append(sc.groups, &group{id: id, name: name})
	return id, nil
}

func (sc *scope) groupByName(name string) *group {
	for _, g := range sc.groups {
		if strings.EqualFold(g.name, name) {
			return g
		}
	}
	return nil
}

func (sc *scope) groupByID(id int64) *group {
	if !sc.hasGroups() {
		if id == defaultGroupID {
			return &group{id: defaultGroupID, name: DefaultGroupName}
		}
		return nil
	}
	for _, g := range sc.groups {
		if g.id == id {
			return g
		}
	}
	return nil
}

// RunnerSeed describes a runner for AddRunner.
type RunnerSeed struct {
	// Name must be unique in the scope.
	Name string
	// Labels are custom labels; the read-only ones are added.
	Labels []string
	// Arch is the read-only architecture label: "X64" (default), "ARM64"
	// or "ARM".
	Arch string
	// OS defaults to "Linux".
	OS string
	// GroupID defaults to 1.
	GroupID   int64
	Online    bool
	Busy      bool
	Ephemeral bool
}

// AddRunner registers a simulated runner in a scope ("org", "owner/repo" or
// "enterprises/<slug>"), for instance one that
// belongs to someone else. Its status stays as given (see SetRunnerStatus);
// jobs it takes complete after their duration by the simulator's clock.
func (s *Server) AddRunner(path string, seed RunnerSeed) (Runner, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.scopes[strings.ToLower(path)]
	if !ok {
		return Runner{}, fmt.Errorf("no organization, repository or enterprise %q", path)
	}
	if seed.Name == "" {
		return Runner{}, fmt.Errorf("a runner needs a name")
	}
	if s.runnerByNameLocked(sc, seed.Name) != nil {
		return Runner{}, fmt.Errorf("a runner named %q exists in %s", seed.Name, path)
	}
	if seed.GroupID == 0 {
		seed.GroupID = defaultGroupID
	}
	if sc.groupByID(seed.GroupID) == nil {
		return Runner{}, fmt.Errorf("no runner group %d in %s", seed.GroupID, path)
	}
	if seed.Arch == "" {
		seed.Arch = "X64"
	}
	if seed.OS == "" {
		seed.OS = "Linux"
	}
	r := s.newRunnerLocked(sc, seed.Name, seed.GroupID, seed.Labels)
	r.arch = seed.Arch
	r.os = seed.OS
	r.simulated = true
	r.staticOnline = seed.Online
	r.busy = seed.Busy
	r.ephemeral = seed.Ephemeral
	s.notifyLocked()
	return s.snapshotLocked(r, s.now()), nil
}

// SetRunnerStatus sets a simulated runner online or offline. It fails for a
// runner with a listener, whose status is its listener's doing.
func (s *Server) SetRunnerStatus(id int64, online bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runners[id]
	if !ok {
		return fmt.Errorf("no runner %d", id)
	}
	if !r.simulated {
		return fmt.Errorf("runner %d has a listener; its status follows the listener", id)
	}
	r.staticOnline = online
	s.sweepLocked(s.now())
	s.notifyLocked()
	return nil
}

// SetRunnerBusy marks a simulated runner busy or idle without a job.
func (s *Server) SetRunnerBusy(id int64, busy bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runners[id]
	if !ok {
		return fmt.Errorf("no runner %d", id)
	}
	if !r.simulated {
		return fmt.Errorf("runner %d has a listener; it is busy while it runs a job", id)
	}
	if r.job != 0 {
		return fmt.Errorf("runner %d is running job %d", id, r.job)
	}
	r.busy = busy
	s.sweepLocked(s.now())
	s.notifyLocked()
	return nil
}

// newRunnerLocked creates and stores a runner with the given custom labels.
func (s *Server) newRunnerLocked(sc *scope, name string, groupID int64, custom []string) *runner {
	r := &runner{
		id:        s.nextID,
		name:      name,
		scope:     sc,
		groupID:   groupID,
		os:        "unknown",
		arch:      s.opts.RunnerArch,
		createdAt: s.now(),
	}
	s.nextID++
	r.custom = s.customLabelsLocked(nil, custom)
	s.runners[r.id] = r
	return r
}

// customLabelsLocked returns have plus add, leaving out duplicates and names
// of read-only labels, ignoring case.
func (s *Server) customLabelsLocked(have, add []string) []string {
	out := slices.Clone(have)
	seen := map[string]bool{"self-hosted": true, "linux": true, "x64": true, "arm64": true, "arm": true, "macos": true, "windows": true}
	for _, l := range out {
		seen[strings.ToLower(l)] = true
	}
	for _, l := range add {
		l = strings.TrimSpace(l)
		if l == "" || seen[strings.ToLower(l)] {
			continue
		}
		seen[strings.ToLower(l)] = true
		s.labelID(l)
		out = append(out, l)
	}
	return out
}

// labelID returns a label name's id, allocating one the first time.
// s.mu must be held (or the server not yet started).
func (s *Server) labelID(name string) int64 {
	key := strings.ToLower(name)
	if id, ok := s.labelIDs[key]; ok {
		return id
	}
	id := s.nextLabelID
	s.nextLabelID++
	s.labelIDs[key] = id
	return id
}

func (s *Server) runnerByNameLocked(sc *scope, name string) *runner {
	for _, r := range s.runners {
		if r.scope == sc && strings.EqualFold(r.name, name) {
			return r
		}
	}
	return nil
}

// deleteRunnerLocked removes a runner; its listener's session ends with it.
func (s *Server) deleteRunnerLocked(r *runner) {
	delete(s.runners, r.id)
	s.notifyLocked()
}

// runnersOfLocked returns a scope's runners by id.
func (s *Server) runnersOfLocked(sc *scope) []*runner {
	var out []*runner
	for _, r := range s.runners {
		if r.scope == sc {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *runner) int { return cmp.Compare(a.id, b.id) })
	return out
}

// Runners returns the runners of a scope ("org", "owner/repo" or
// "enterprises/<slug>"), or of all scopes for "", by id.
func (s *Server) Runners(path string) []Runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now)
	var out []Runner
	ids := make([]int64, 0, len(s.runners))
	for id := range s.runners {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r := s.runners[id]
		if path == "" || strings.EqualFold(r.scope.path, path) {
			out = append(out, s.snapshotLocked(r, now))
		}
	}
	return out
}

// Runner returns a runner by id.
func (s *Server) Runner(id int64) (Runner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now)
	r, ok := s.runners[id]
	if !ok {
		return Runner{}, false
	}
	return s.snapshotLocked(r, now), true
}

// RunnerByName returns a runner of a scope by name.
func (s *Server) RunnerByName(path, name string) (Runner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweepLocked(now)
	sc, ok := s.scopes[strings.ToLower(path)]
	if !ok {
		return Runner{}, false
	}
	r := s.runnerByNameLocked(sc, name)
	if r == nil {
		return Runner{}, false
	}
	return s.snapshotLocked(r, now), true
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// randomToken returns a token in the style of GitHub's registration tokens:
// 29 upper-case letters and digits.
func randomToken() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, 29)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
