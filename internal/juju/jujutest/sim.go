package jujutest

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/juju/charm/v12"

	"charm.example/github-runner/internal/juju/jujutest/hooktool"
)

// ToolNames are the hook tools the simulator puts on the PATH of every hook.
func ToolNames() []string {
	return []string{
		"action-fail", "action-get", "action-log", "action-set",
		"application-version-set", "config-get", "is-leader", "juju-exec", "juju-log",
		"open-port", "close-port", "opened-ports",
		"relation-get", "relation-ids", "relation-list", "relation-set", "secret-add", "secret-get",
		"secret-ids", "secret-remove", "secret-set",
		"state-delete", "state-get", "state-set", "status-get", "status-set", "unit-get",
	}
}

// unitNameRe is Juju's unit name: an application name and a number.
var unitNameRe = regexp.MustCompile(`^[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*/[0-9]+$`)

// DefaultSystemPath is what follows the tools folder in a hook's PATH.
const DefaultSystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin"

// Options describe the simulated unit. Charm or CharmDir is required, and so
// is Tools.
type Options struct {
	// Charm is a packed .charm archive; it is expanded into the unit's
	// charm folder as Juju does.
	Charm string
	// CharmDir is an unpacked charm (metadata.yaml, config.yaml,
	// actions.yaml and dispatch or hooks/); it is copied, modes kept.
	CharmDir string
	// Tools is the multi-call hook tools program (see BuildTools).
	Tools string

	// Unit is the unit's name; default "<charm name>/0".
	Unit string
	// Model and ModelUUID name the model; defaults "test-model" and a fixed UUID.
	Model, ModelUUID string
	// MachineID is the machine's id; default "0".
	MachineID string
	// JujuVersion is JUJU_VERSION; default "3.6.4".
	JujuVersion string
	// Leader makes the unit the application's leader.
	Leader bool
	// Config is the operator's configuration, on top of the charm's
	// defaults; validated as `juju config` would.
	Config map[string]any
	// HTTPProxy, HTTPSProxy and NoProxy are the model's juju-*-proxy
	// settings, seen by the charm as JUJU_CHARM_HTTP_PROXY and so on.
	HTTPProxy, HTTPSProxy, NoProxy string
	// PrivateAddress and PublicAddress answer unit-get; default 10.0.0.10.
	PrivateAddress, PublicAddress string
	// SystemPath follows the tools folder in PATH; default DefaultSystemPath.
	SystemPath string
	// Env holds extra variables for every process the simulator starts, on
	// top of Juju's (which win on a clash). Juju passes nothing else, so use
	// this only for what has no other way in; prefer charm config.
	Env map[string]string
}

// Status is a workload status as `juju status` shows it.
type Status struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// String is "status: message", or the status alone.
func (s Status) String() string {
	if s.Message == "" {
		return s.Status
	}
	return s.Status + ": " + s.Message
}

// StatusEntry is one line of `juju show-status-log`.
type StatusEntry struct {
	// Target is "unit" or "application".
	Target string
	Status
	// Context is what was running: a dispatch path, or "juju-exec".
	Context string
	Time    time.Time
}

// LogLine is a line of the unit's log: a juju-log call, or a line the
// charm printed (stdout at DEBUG, stderr at WARNING, as Juju logs them).
type LogLine struct {
	Level   string
	Message string
	// Context is the dispatch path of the hook or action, or "juju-exec".
	Context string
}

// SecretOptions describe a secret added with AddSecret.
type SecretOptions struct {
	// Label lets `secret-get --label` find the secret.
	Label string
	// Granted grants the secret to the application (`juju grant-secret`).
	Granted bool
}

// Sim is a simulated Juju unit on its own machine: a charm folder, the hook
// tools on a PATH, the agent answering them over a unix socket, and the
// state the controller keeps. Use it from one test; its methods are safe
// for concurrent use, and hooks take the machine lock one at a time.
type Sim struct {
	opts     Options
	unit     string
	root     string
	charmDir string
	toolsDir string
	socket   string
	meta     *charm.Meta
	config   *charm.Config
	actions  *charm.Actions

	lock chan struct{} // the machine lock
	ln   net.Listener
	srv  *http.Server

	mu         sync.Mutex
	settings   charm.Settings
	leader     bool
	unitStatus Status
	appStatus  Status
	errorHook  string
	// errorRetries counts the retries of errorHook so far.
	errorRetries int
	history      []StatusEntry
	version      string
	logs         []LogLine
	state        map[string]string
	ports        map[string]bool
	secrets      map[string]*secret
	// tracked is the revision of each operator secret the unit reads.
	tracked  map[string]int
	contexts map[string]*hookContext
	nextTask int
	runs     []Run
	closed   bool

	relations map[int]*relation
	// nextRelation numbers relations as the controller does, model-wide.
	nextRelation int
}

// New lays out the charm and the tools, starts the agent's socket and
// returns the unit, not yet installed. Close it when done.
func New(opts Options) (*Sim, error) {
	if opts.Tools == "" {
		return nil, errors.New("jujutest: Options.Tools is required (see BuildTools)")
	}
	if (opts.Charm == "") == (opts.CharmDir == "") {
		return nil, errors.New("jujutest: set exactly one of Options.Charm and Options.CharmDir")
	}
	// A short root: unix socket paths are limited to 108 bytes.
	root, err := os.MkdirTemp("", "jujutest-")
	if err != nil {
		return nil, fmt.Errorf("cannot create the unit's folder: %w", err)
	}
	s := &Sim{
		opts:       opts,
		root:       root,
		charmDir:   filepath.Join(root, "charm"),
		toolsDir:   filepath.Join(root, "tools"),
		socket:     filepath.Join(root, "agent.socket"),
		lock:       make(chan struct{}, 1),
		leader:     opts.Leader,
		state:      map[string]string{},
		ports:      map[string]bool{},
		secrets:    map[string]*secret{},
		tracked:    map[string]int{},
		contexts:   map[string]*hookContext{},
		relations:  map[int]*relation{},
		settings:   charm.Settings{},
		unitStatus: Status{Status: "unknown"},
		appStatus:  Status{Status: "unknown"},
	}
	if err := s.setup(); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	return s, nil
}

// Start is New for a test: it ends the test on error and closes the unit
// when the test ends.
func Start(t testing.TB, opts Options) *Sim {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing the simulated unit: %v", err)
		}
	})
	return s
}

func (s *Sim) setup() error {
	if s.opts.Charm != "" {
		arch, err := charm.ReadCharmArchive(s.opts.Charm)
		if err != nil {
			return fmt.Errorf("cannot read charm %s: %w", s.opts.Charm, err)
		}
		if err := arch.ExpandTo(s.charmDir); err != nil {
			return fmt.Errorf("cannot expand charm %s: %w", s.opts.Charm, err)
		}
	} else if err := copyTree(s.opts.CharmDir, s.charmDir); err != nil {
		return err
	}
	dir, err := charm.ReadCharmDir(s.charmDir)
	if err != nil {
		return fmt.Errorf("cannot read the charm: %w", err)
	}
	s.meta, s.config, s.actions = dir.Meta(), dir.Config(), dir.Actions()
	if s.config == nil {
		s.config = charm.NewConfig()
	}
	if s.actions == nil {
		s.actions = charm.NewActions()
	}
	s.unit = s.opts.Unit
	if s.unit == "" {
		s.unit = s.meta.Name + "/0"
	}
	if !unitNameRe.MatchString(s.unit) {
		return fmt.Errorf("jujutest: unit name %q is not <application>/<number>", s.unit)
	}
	if s.opts.Config != nil {
		if err := s.SetConfig(s.opts.Config); err != nil {
			return err
		}
	}

	tools, err := filepath.Abs(s.opts.Tools)
	if err != nil {
		return err
	}
	if _, err := os.Stat(tools); err != nil {
		return fmt.Errorf("jujutest: hook tools program: %w", err)
	}
	if err := os.Mkdir(s.toolsDir, 0o755); err != nil {
		return err
	}
	for _, name := range ToolNames() {
		if err := os.Symlink(tools, filepath.Join(s.toolsDir, name)); err != nil {
			return fmt.Errorf("cannot install tool %s: %w", name, err)
		}
	}

	ln, err := net.Listen("unix", s.socket)
	if err != nil {
		return fmt.Errorf("cannot listen on the agent socket: %w", err)
	}
	s.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+hooktool.Path, s.serveTool)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return nil
}

// Close stops the agent socket, ending any tool still waiting on it, and
// removes the unit's folders.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var errs []error
	if s.srv != nil {
		if err := s.srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(s.root); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Unit is the unit's name, such as github-runner/0.
func (s *Sim) Unit() string { return s.unit }

// CharmDir is the unit's charm folder (JUJU_CHARM_DIR).
func (s *Sim) CharmDir() string { return s.charmDir }

// ToolsDir is the folder of hook tools, first on every hook's PATH.
func (s *Sim) ToolsDir() string { return s.toolsDir }

// Meta is the charm's metadata.
func (s *Sim) Meta() *charm.Meta { return s.meta }

// SetConfig changes the operator's configuration as `juju config app k=v`
// does: each value is checked against config.yaml (numbers may be given as
// Go or JSON numbers or as strings), an unknown option is refused, and a nil
// value resets the option to its default. No hook runs; see Configure.
func (s *Sim) SetConfig(values map[string]any) error {
	in := charm.Settings{}
	var reset []string
	for name, v := range values {
		if v == nil {
			if _, ok := s.config.Options[name]; !ok {
				return fmt.Errorf("unknown option %q", name)
			}
			reset = append(reset, name)
			continue
		}
		in[name] = normalizeSetting(s.config.Options[name].Type, v)
	}
	valid, err := s.config.ValidateSettings(in)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range reset {
		delete(s.settings, name)
	}
	maps.Copy(s.settings, valid)
	return nil
}

// Config is the configuration a hook sees: the defaults of config.yaml
// overlaid by what was set. Options with neither are absent.
func (s *Sim) Config() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.configLocked()
}

// configLocked is Config with s.mu held.
func (s *Sim) configLocked() map[string]any {
	out := s.effectiveConfigLocked()
	for k, v := range out {
		if v == nil {
			delete(out, k)
		}
	}
	return out
}

// effectiveConfigLocked is every option: its value, its default, or nil.
func (s *Sim) effectiveConfigLocked() map[string]any {
	out := map[string]any{}
	for name, v := range s.config.DefaultSettings() {
		out[name] = v
	}
	maps.Copy(out, s.settings)
	return out
}

// SetLeader makes the unit leader or not. No hook runs; run leader-elected
// (or leader-settings-changed) yourself if the test needs it.
func (s *Sim) SetLeader(leader bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leader = leader
}

// IsLeader says whether the unit is leader.
func (s *Sim) IsLeader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

// AddSecret stores a secret owned by the operator (`juju add-secret`) and
// returns its URI, secret:<id>. Unless opts.Granted, reading it from the
// charm is refused with `permission denied` until GrantSecret.
func (s *Sim) AddSecret(content map[string]string, opts SecretOptions) string {
	id := newSecretID()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[id] = &secret{revisions: []map[string]string{maps.Clone(content)}, label: opts.Label, granted: opts.Granted}
	return "secret:" + id
}

// UpdateSecret gives a secret a new revision with this content. A unit
// that read the secret keeps reading the revision it read until it asks
// with --refresh (secret-get; --peek shows the newest without moving).
func (s *Sim) UpdateSecret(uri string, content map[string]string) error {
	return s.withSecret(uri, func(sec *secret) { sec.revisions = append(sec.revisions, maps.Clone(content)) })
}

// GrantSecret grants a secret to the application.
func (s *Sim) GrantSecret(uri string) error {
	return s.withSecret(uri, func(sec *secret) { sec.granted = true })
}

// RevokeSecret takes a secret's grant away.
func (s *Sim) RevokeSecret(uri string) error {
	return s.withSecret(uri, func(sec *secret) { sec.granted = false })
}

// RemoveSecret deletes a secret.
func (s *Sim) RemoveSecret(uri string) error {
	id, err := parseSecretURI(uri)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.secrets[id]; !ok {
		return fmt.Errorf("secret %q not found", id)
	}
	delete(s.secrets, id)
	return nil
}

func (s *Sim) withSecret(uri string, f func(*secret)) error {
	id, err := parseSecretURI(uri)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[id]
	if !ok {
		return fmt.Errorf("secret %q not found", id)
	}
	f(sec)
	return nil
}

// SetState replaces the unit's charm state (what state-get reads), as if
// earlier hooks had stored it.
func (s *Sim) SetState(state map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = maps.Clone(state)
	if s.state == nil {
		s.state = map[string]string{}
	}
}

// State is the unit's committed charm state.
func (s *Sim) State() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.state)
}

// UnitStatus is the unit's workload status as `juju status` shows it: what
// the charm set, or error `hook failed: "<hook>"` after a failed hook.
func (s *Sim) UnitStatus() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shownUnitStatusLocked()
}

func (s *Sim) shownUnitStatusLocked() Status {
	if s.errorHook != "" {
		return Status{Status: "error", Message: fmt.Sprintf("hook failed: %q", s.errorHook)}
	}
	return s.unitStatus
}

// ApplicationStatus is what the leader set with `status-set --application`.
func (s *Sim) ApplicationStatus() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appStatus
}

// StatusHistory is every status the unit and application went through, in order.
func (s *Sim) StatusHistory() []StatusEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.history)
}

// WorkloadVersion is what application-version-set last set.
func (s *Sim) WorkloadVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// Logs is the unit's log so far.
func (s *Sim) Logs() []LogLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.logs)
}

// OpenedPorts are the committed open ports, as opened-ports prints them.
func (s *Sim) OpenedPorts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.ports)
}

// Runs are every hook, action and juju-exec command run so far, in order.
func (s *Sim) Runs() []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.runs)
	for i, r := range out {
		if r.Action != nil {
			a := r.Action.clone()
			out[i].Action = &a
		}
	}
	return out
}

// Snapshot is the unit's state at one moment.
type Snapshot struct {
	UnitStatus        Status
	ApplicationStatus Status
	WorkloadVersion   string
	Leader            bool
	Config            map[string]any
	State             map[string]string
	OpenedPorts       []string
	Relations         []RelationData
}

// Snapshot returns the unit's state now.
func (s *Sim) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Snapshot{
		UnitStatus:        s.shownUnitStatusLocked(),
		ApplicationStatus: s.appStatus,
		WorkloadVersion:   s.version,
		Leader:            s.leader,
		Config:            s.configLocked(),
		State:             maps.Clone(s.state),
		OpenedPorts:       sortedKeys(s.ports),
		Relations:         s.relationsLocked(),
	}
}

func (s *Sim) setUnitStatusLocked(st Status, context string) {
	s.unitStatus = st
	s.history = append(s.history, StatusEntry{Target: "unit", Status: st, Context: context, Time: time.Now()})
}

func (s *Sim) logLocked(level, msg, context string) {
	s.logs = append(s.logs, LogLine{Level: level, Message: msg, Context: context})
}

// normalizeSetting turns what a test may pass into what
// charm.Config.ValidateSettings accepts: it refuses float64 for an int.
func normalizeSetting(typ string, v any) any {
	switch typ {
	case "int":
		switch n := v.(type) {
		case float64:
			if n == float64(int64(n)) {
				return int64(n)
			}
		case float32:
			if n == float32(int64(n)) {
				return int64(n)
			}
		case interface{ Int64() (int64, error) }: // json.Number
			if i, err := n.Int64(); err == nil {
				return i
			}
		}
	case "float":
		if n, ok := v.(interface{ Float64() (float64, error) }); ok {
			if f, err := n.Float64(); err == nil {
				return f
			}
		}
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func randUint64() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return binary.BigEndian.Uint64(b[:])
}

// copyTree copies a folder, keeping file modes; .git and build/ are left
// out as charm packing does.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() && (rel == ".git" || rel == "build") {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			in, err := os.Open(path)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			if err := out.Chmod(info.Mode().Perm()); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
		return nil
	})
}
