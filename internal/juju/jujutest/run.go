package jujutest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"charm.example/github-runner/internal/juju/jujutest/hooktool"
)

// Kinds of run.
const (
	KindHook   = "hook"   // a hook: JUJU_DISPATCH_PATH=hooks/<name>
	KindAction = "action" // an action: JUJU_DISPATCH_PATH=actions/<name>
	KindExec   = "exec"   // a juju-exec command, or an event dispatched by one
)

// Run is one hook, action or juju-exec command, as it ended.
type Run struct {
	// Kind is KindHook, KindAction or KindExec.
	Kind string
	// Name is the hook or action name, or the command run by juju-exec.
	Name string
	// DispatchPath is the JUJU_DISPATCH_PATH the charm saw (empty for a
	// juju-exec command, which may set its own).
	DispatchPath string
	// ContextID is the run's JUJU_CONTEXT_ID.
	ContextID string
	// ExitCode is the process's exit status (0 when nothing ran).
	ExitCode int
	// Stdout and Stderr are what the process printed.
	Stdout, Stderr string
	// Action is the outcome of an action run, nil for other kinds.
	Action *ActionResult
	// Retry is set on a failed hook's retry: how many retries before this
	// one, and the back-off Juju would have waited before it.
	Retry *HookRetry
}

// HookRetry describes a retry of a failed hook.
type HookRetry struct {
	Attempt int // 1 for the first retry
	BackOff time.Duration
}

// retryBackOff is Juju's wait before the nth retry of a failed hook: 5 s,
// doubled each time, at most 5 minutes (juju.md, "Exit status of a HOOK";
// Juju's uniter hook retry strategy).
func retryBackOff(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// UnitInErrorError says a hook did not run: the unit is in error, and the
// retry of the hook that failed, which Juju runs before anything else,
// failed again.
type UnitInErrorError struct {
	// Hook is the hook that did not run, Failed the one in error.
	Hook, Failed string
	Retry        *HookFailedError
}

func (e *UnitInErrorError) Error() string {
	return fmt.Sprintf("hook %q did not run: the unit is in error (%v)", e.Hook, e.Retry)
}

func (e *UnitInErrorError) Unwrap() error { return e.Retry }

// ActionResult is an action's outcome, as `juju show-task` reports it.
type ActionResult struct {
	// ID is the task id (JUJU_ACTION_UUID), a number in Juju 3.
	ID string
	// Name is the action's name.
	Name string
	// Status is "completed" or "failed".
	Status string
	// Message is the failure message: what action-fail said, or
	// "exit status N" when the process failed.
	Message string
	// Results are what action-set stored, plus return-code and, when not
	// empty, stdout and stderr, as Juju adds them.
	Results map[string]any
	// Logs are the action-log lines.
	Logs []string
	// Params are the parameters the action ran with (defaults included).
	Params map[string]any
}

// ExecResult is what a juju-exec command printed and its exit status.
type ExecResult struct {
	Code           int
	Stdout, Stderr string
}

// HookFailedError says a hook exited non-zero: the unit is now in error.
type HookFailedError struct {
	Hook     string
	ExitCode int
	Stderr   string
}

// Error names the hook, its exit status and its last line of stderr.
func (e *HookFailedError) Error() string {
	msg := fmt.Sprintf("hook failed: %q (exit status %d)", e.Hook, e.ExitCode)
	if tail := lastLine(e.Stderr); tail != "" {
		msg += ": " + tail
	}
	return msg
}

// ActionRefusedError says the controller refused to run an action: it is
// not defined, or its parameters do not validate. The charm never saw it.
type ActionRefusedError struct {
	Action string
	Reason string
}

// Error is the controller's reason, as `juju run` prints it.
func (e *ActionRefusedError) Error() string { return e.Reason }

// hookContext is the agent's side of one run: what its tools see and change.
type hookContext struct {
	id     string
	kind   string
	name   string
	path   string // JUJU_DISPATCH_PATH
	label  string // what logs and history call the run
	config map[string]any
	state  map[string]string
	ports  map[string]bool
	action *actionState
	// relation is set for a relation hook.
	relation *relationHookContext
	// relData is the hook's working copy of this side's relation databags.
	relData map[int]*relationLocalData
	// retry is set when this is a failed hook's retry.
	retry *HookRetry
	// secrets is the hook's working copy of the unit's own secrets, tracked
	// the revisions of the operator's secrets it reads.
	secrets map[string]*secret
	tracked map[string]int
}

type actionState struct {
	id      string
	name    string
	params  map[string]any
	results map[string]any
	failed  bool
	message string
	logs    []string
}

// runSpec says what to run.
type runSpec struct {
	kind   string
	name   string
	path   string
	params map[string]any // actions
	// command is run with sh (juju-exec); else the charm is dispatched.
	command string
	// fn runs in the test's process instead of a child (InContext).
	fn func(env []string) error
	// relation is set for a relation hook.
	relation *relationHookContext
	// retry is set when a failed hook runs again.
	retry *HookRetry
}

// acquire takes the machine lock, waiting at most as long as ctx allows.
func (s *Sim) acquire(ctx context.Context) error {
	select {
	case s.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the machine lock: %w", ctx.Err())
	}
}

func (s *Sim) release() { <-s.lock }

// open registers a new hook context.
func (s *Sim) open(spec runSpec) *hookContext {
	s.mu.Lock()
	defer s.mu.Unlock()
	hc := &hookContext{
		id:     fmt.Sprintf("%s-%s-%d", s.unit, strings.ReplaceAll(spec.name, " ", "_"), randUint64()>>1),
		kind:   spec.kind,
		name:   spec.name,
		path:   spec.path,
		label:  spec.path,
		config: s.effectiveConfigLocked(),
		state:  maps.Clone(s.state),
		ports:  maps.Clone(s.ports),

		relation: spec.relation,
		relData:  s.cloneRelationDataLocked(),
		secrets:  s.ownedSecretsLocked(),
		retry:    spec.retry,
		tracked:  maps.Clone(s.tracked),
	}
	if spec.kind == KindExec {
		hc.label = "juju-exec"
		hc.id = fmt.Sprintf("%s-run-commands-%d", s.unit, randUint64()>>1)
	}
	if spec.kind == KindAction {
		s.nextTask++
		hc.action = &actionState{
			id:      strconv.Itoa(s.nextTask),
			name:    spec.name,
			params:  deepCopy(spec.params),
			results: map[string]any{},
		}
		if hc.action.params == nil {
			hc.action.params = map[string]any{}
		}
	}
	if spec.kind == KindHook && spec.name == "install" {
		// Juju says so before it runs install.
		s.setUnitStatusLocked(Status{Status: "maintenance", Message: "installing charm software"}, hc.label)
	}
	s.contexts[hc.id] = hc
	return hc
}

// environ is the clean environment of a run: Juju's variables and nothing
// from the test's process but Options.Env.
func (s *Sim) environ(hc *hookContext) []string {
	env := map[string]string{}
	maps.Copy(env, s.opts.Env)
	juju := map[string]string{
		"JUJU_CHARM_DIR":            s.charmDir,
		"CHARM_DIR":                 s.charmDir,
		"JUJU_UNIT_NAME":            s.unit,
		"JUJU_PRINCIPAL_UNIT":       "",
		"JUJU_MODEL_NAME":           cmpOr(s.opts.Model, "test-model"),
		"JUJU_MODEL_UUID":           cmpOr(s.opts.ModelUUID, "7c2a3d3e-8f0b-4d4e-9b1a-6f5e4d3c2b1a"),
		"JUJU_VERSION":              cmpOr(s.opts.JujuVersion, "3.6.4"),
		"JUJU_CONTEXT_ID":           hc.id,
		"JUJU_MACHINE_ID":           cmpOr(s.opts.MachineID, "0"),
		"JUJU_AVAILABILITY_ZONE":    "",
		"JUJU_AGENT_SOCKET_ADDRESS": s.socket,
		"JUJU_AGENT_SOCKET_NETWORK": "unix",
		"JUJU_API_ADDRESSES":        "10.0.0.2:17070",
		"JUJU_SLA":                  "unsupported",
		"JUJU_CHARM_HTTP_PROXY":     s.opts.HTTPProxy,
		"JUJU_CHARM_HTTPS_PROXY":    s.opts.HTTPSProxy,
		"JUJU_CHARM_FTP_PROXY":      "",
		"JUJU_CHARM_NO_PROXY":       s.opts.NoProxy,
		"PATH":                      s.toolsDir + ":" + cmpOr(s.opts.SystemPath, DefaultSystemPath),
		"LANG":                      "C.UTF-8",
		"DEBIAN_FRONTEND":           "noninteractive",
		"APT_LISTCHANGES_FRONTEND":  "none",
	}
	switch hc.kind {
	case KindHook:
		juju["JUJU_DISPATCH_PATH"] = hc.path
		juju["JUJU_HOOK_NAME"] = hc.name
		if rh := hc.relation; rh != nil {
			s.mu.Lock()
			if r, ok := s.relations[rh.id]; ok {
				juju["JUJU_RELATION"] = r.endpoint
				juju["JUJU_RELATION_ID"] = r.fakeID()
				juju["JUJU_REMOTE_APP"] = r.remoteApp
				juju["JUJU_REMOTE_UNIT"] = rh.remoteUnit
				if rh.departingUnit != "" {
					juju["JUJU_DEPARTING_UNIT"] = rh.departingUnit
				}
			}
			s.mu.Unlock()
		}
	case KindAction:
		juju["JUJU_DISPATCH_PATH"] = hc.path
		juju["JUJU_ACTION_NAME"] = hc.action.name
		juju["JUJU_ACTION_UUID"] = hc.action.id
		juju["JUJU_ACTION_TAG"] = "action-" + hc.action.id
	case KindExec:
		if hc.path != "" {
			juju["JUJU_DISPATCH_PATH"] = hc.path
		}
	}
	maps.Copy(env, juju)
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// run runs spec under the machine lock and records its outcome.
func (s *Sim) run(ctx context.Context, spec runSpec) (Run, error) {
	if err := s.acquire(ctx); err != nil {
		return Run{}, err
	}
	defer s.release()
	hc := s.open(spec)
	env := s.environ(hc)

	var (
		code           int
		stdout, stderr []byte
		err            error
	)
	switch {
	case spec.fn != nil:
		if ferr := spec.fn(env); ferr != nil {
			code, stderr = 1, []byte(ferr.Error()+"\n")
		}
	case spec.command != "":
		// As juju-exec does (juju's worker/uniter/runner
		// runCommandsWithTimeout): `/bin/bash -s` with the commands on
		// stdin, in the charm folder.
		code, stdout, stderr, err = s.processInput(ctx, env, strings.NewReader(spec.command), "/bin/bash", "-s")
	default:
		code, stdout, stderr, err = s.dispatch(ctx, hc, env)
	}
	if err != nil {
		s.mu.Lock()
		delete(s.contexts, hc.id)
		s.mu.Unlock()
		return Run{}, err
	}
	return s.finish(hc, code, stdout, stderr), nil
}

// dispatch runs the charm for hc as Juju does: `dispatch` if the charm has
// one, else hooks/<hook> or actions/<action>.
func (s *Sim) dispatch(ctx context.Context, hc *hookContext, env []string) (int, []byte, []byte, error) {
	exe := filepath.Join(s.charmDir, "dispatch")
	if _, err := os.Lstat(exe); err != nil {
		switch hc.kind {
		case KindHook:
			exe = filepath.Join(s.charmDir, "hooks", hc.name)
			if _, err := os.Lstat(exe); err != nil {
				return 0, nil, nil, nil // a missing hook is a success
			}
		case KindAction:
			exe = filepath.Join(s.charmDir, "actions", hc.name)
			if _, err := os.Lstat(exe); err != nil {
				s.mu.Lock()
				hc.action.failed, hc.action.message = true, fmt.Sprintf("action not implemented on unit %q", s.unit)
				s.mu.Unlock()
				return 0, nil, nil, nil
			}
		default:
			return 1, nil, []byte("the charm has no dispatch\n"), nil
		}
	}
	return s.process(ctx, env, exe)
}

// process runs argv in the charm folder with env, stdin /dev/null, in its
// own process group so that a cancelled ctx ends all of it.
func (s *Sim) process(ctx context.Context, env []string, argv ...string) (int, []byte, []byte, error) {
	return s.processInput(ctx, env, nil, argv...)
}

// processInput is process with stdin read from in (nil: /dev/null).
func (s *Sim) processInput(ctx context.Context, env []string, in io.Reader, argv ...string) (int, []byte, []byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = in
	cmd.Dir = s.charmDir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return 0, nil, nil, fmt.Errorf("running %s: %w", filepath.Base(argv[0]), ctx.Err())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.Bytes(), stderr.Bytes(), nil
	case errors.As(err, &exitErr):
		code := exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return code, stdout.Bytes(), stderr.Bytes(), nil
	case errors.Is(err, exec.ErrWaitDelay):
		return 0, stdout.Bytes(), stderr.Bytes(), nil
	default:
		// Not startable (no exec bit, bad interpreter): the hook fails,
		// as it does under Juju.
		stderr.WriteString(err.Error() + "\n")
		return 126, stdout.Bytes(), stderr.Bytes(), nil
	}
}

// finish applies the end of a run: commit or discard its changes, log what
// it printed, move the unit into or out of error, and record it.
func (s *Sim) finish(hc *hookContext, code int, stdout, stderr []byte) Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.contexts, hc.id)
	for _, line := range lines(stdout) {
		s.logLocked("DEBUG", line, hc.label)
	}
	for _, line := range lines(stderr) {
		s.logLocked("WARNING", line, hc.label)
	}
	if code == 0 {
		s.state, s.ports = hc.state, hc.ports
		s.commitRelationDataLocked(hc.relData)
		s.commitSecretsLocked(hc)
	}
	r := Run{Kind: hc.kind, Name: hc.name, DispatchPath: hc.path, ContextID: hc.id, ExitCode: code, Stdout: string(stdout), Stderr: string(stderr), Retry: hc.retry}
	switch hc.kind {
	case KindHook:
		if code == 0 {
			s.errorRetries = 0
		}
		if code != 0 {
			s.errorHook = hc.name
			s.history = append(s.history, StatusEntry{Target: "unit", Status: s.shownUnitStatusLocked(), Context: hc.label, Time: time.Now()})
		} else if s.errorHook != "" {
			s.errorHook = ""
			s.history = append(s.history, StatusEntry{Target: "unit", Status: s.unitStatus, Context: hc.label, Time: time.Now()})
		}
	case KindAction:
		a := hc.action
		res := &ActionResult{ID: a.id, Name: a.name, Status: "completed", Results: a.results, Logs: a.logs, Params: a.params}
		switch {
		case code != 0:
			res.Status, res.Message = "failed", fmt.Sprintf("exit status %d", code)
		case a.failed:
			res.Status, res.Message = "failed", a.message
		}
		res.Results["return-code"] = code
		if len(stdout) > 0 {
			res.Results["stdout"] = string(stdout)
		}
		if len(stderr) > 0 {
			res.Results["stderr"] = string(stderr)
		}
		r.Action = res
	}
	s.runs = append(s.runs, r)
	if r.Action != nil {
		res := r.Action.clone()
		r.Action = &res // the caller's copy
	}
	return r
}

func (a *ActionResult) clone() ActionResult {
	c := *a
	c.Results = deepCopy(a.Results)
	c.Params = deepCopy(a.Params)
	c.Logs = slices.Clone(a.Logs)
	return c
}

// RunHook runs one hook through the charm. A hook that exits non-zero
// leaves the unit in error and returns a *HookFailedError with the Run.
//
// As on Juju (juju.md, "When a hook fails"), a unit in error runs no other
// hook until the failed one succeeds: RunHook first retries the failed
// hook (RetryFailedHook, as Juju does after its back-off) and, if that
// fails again, returns a *UnitInErrorError without running hook. Actions
// and juju-exec still run. Resolved is `juju resolved`.
func (s *Sim) RunHook(ctx context.Context, hook string) (Run, error) {
	if failed := s.failedHook(); failed != "" {
		if r, err := s.RetryFailedHook(ctx); err != nil {
			var hf *HookFailedError
			if errors.As(err, &hf) {
				return r, &UnitInErrorError{Hook: hook, Failed: failed, Retry: hf}
			}
			return r, err
		}
	}
	return s.runHook(ctx, hook, nil)
}

func (s *Sim) failedHook() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errorHook
}

// RetryFailedHook runs the failed hook again, as Juju does after its
// back-off (recorded in the Run's Retry; the simulator does not wait).
// With the unit not in error it does nothing.
func (s *Sim) RetryFailedHook(ctx context.Context) (Run, error) {
	s.mu.Lock()
	failed := s.errorHook
	s.errorRetries++
	n := s.errorRetries
	s.mu.Unlock()
	if failed == "" {
		return Run{}, nil
	}
	return s.runHook(ctx, failed, &HookRetry{Attempt: n, BackOff: retryBackOff(n)})
}

// ResolvedOptions are `juju resolved`'s.
type ResolvedOptions struct {
	// NoRetry skips the failed hook instead of running it again.
	NoRetry bool
}

// Resolved is `juju resolved <unit>`: it retries the failed hook now or,
// with NoRetry, marks it done without running it; either way the unit
// leaves error if it can.
func (s *Sim) Resolved(ctx context.Context, opts ResolvedOptions) (Run, error) {
	if !opts.NoRetry {
		return s.RetryFailedHook(ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errorHook != "" {
		s.errorHook, s.errorRetries = "", 0
		s.history = append(s.history, StatusEntry{Target: "unit", Status: s.unitStatus, Context: "resolved", Time: time.Now()})
	}
	return Run{}, nil
}

func (s *Sim) runHook(ctx context.Context, hook string, retry *HookRetry) (Run, error) {
	r, err := s.run(ctx, runSpec{kind: KindHook, name: hook, path: "hooks/" + hook, retry: retry})
	if err != nil {
		return r, err
	}
	if r.ExitCode != 0 {
		return r, &HookFailedError{Hook: hook, ExitCode: r.ExitCode, Stderr: r.Stderr}
	}
	return r, nil
}

// RunHooks runs hooks in order, stopping at the first that fails.
func (s *Sim) RunHooks(ctx context.Context, hooks ...string) error {
	for _, h := range hooks {
		if _, err := s.RunHook(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// Deploy runs what Juju runs for a new unit: install, leader-elected (if
// leader), config-changed, start, then one update-status. It stops at the
// first hook that fails and returns the unit's state.
func (s *Sim) Deploy(ctx context.Context) (Snapshot, error) {
	hooks := []string{"install"}
	if s.IsLeader() {
		hooks = append(hooks, "leader-elected")
	}
	hooks = append(hooks, "config-changed", "start", "update-status")
	err := s.RunHooks(ctx, hooks...)
	return s.Snapshot(), err
}

// Configure is `juju config`: SetConfig, then config-changed.
func (s *Sim) Configure(ctx context.Context, values map[string]any) (Run, error) {
	if err := s.SetConfig(values); err != nil {
		return Run{}, err
	}
	return s.RunHook(ctx, "config-changed")
}

// Upgrade is `juju refresh`: upgrade-charm, then config-changed.
func (s *Sim) Upgrade(ctx context.Context) error {
	return s.RunHooks(ctx, "upgrade-charm", "config-changed")
}

// Remove is `juju remove-unit`: stop, then remove.
func (s *Sim) Remove(ctx context.Context) error {
	return s.RunHooks(ctx, "stop", "remove")
}

// RunAction is `juju run <unit> <action> k=v...` as the controller does it:
// an action not in actions.yaml, or params that do not validate against its
// schema, are refused with an *ActionRefusedError and never reach the charm;
// else the defaults are inserted and the action runs. A failed action is a
// result (Status "failed"), not an error.
func (s *Sim) RunAction(ctx context.Context, name string, params map[string]any) (ActionResult, error) {
	spec, ok := s.actions.ActionSpecs[name]
	if !ok {
		return ActionResult{}, &ActionRefusedError{Action: name, Reason: fmt.Sprintf("action %q not defined on unit %q", name, s.unit)}
	}
	if params == nil {
		params = map[string]any{}
	}
	params = deepCopy(params)
	if err := spec.ValidateParams(params); err != nil {
		return ActionResult{}, &ActionRefusedError{Action: name, Reason: err.Error()}
	}
	withDefaults, err := spec.InsertDefaults(params)
	if err != nil {
		return ActionResult{}, &ActionRefusedError{Action: name, Reason: err.Error()}
	}
	r, err := s.run(ctx, runSpec{kind: KindAction, name: name, path: "actions/" + name, params: withDefaults})
	if err != nil {
		return ActionResult{}, err
	}
	return r.Action.clone(), nil
}

// Dispatch runs the charm with any JUJU_DISPATCH_PATH, below the
// controller's checks: `actions/<name>` runs as an action with params taken
// as given (no schema check, no defaults), `hooks/<name>` as a hook, and
// anything else (a custom event such as reconcile-runners) as a juju-exec
// of `JUJU_DISPATCH_PATH=<path> ./dispatch` would.
func (s *Sim) Dispatch(ctx context.Context, path string, params map[string]any) (Run, error) {
	switch {
	case strings.HasPrefix(path, "hooks/"):
		return s.RunHook(ctx, strings.TrimPrefix(path, "hooks/"))
	case strings.HasPrefix(path, "actions/"):
		return s.run(ctx, runSpec{kind: KindAction, name: strings.TrimPrefix(path, "actions/"), path: path, params: params})
	default:
		return s.run(ctx, runSpec{kind: KindExec, name: path, path: path})
	}
}

// Exec is `juju-exec <unit> '<command>'`: it takes the machine lock and runs
// command with sh in the charm folder, in a hook context of the unit with
// the same clean environment as a hook (no JUJU_DISPATCH_PATH unless the
// command sets one). Charm state is kept when the command exits 0; a failure
// never puts the unit in error.
func (s *Sim) Exec(ctx context.Context, command string) (ExecResult, error) {
	r, err := s.run(ctx, runSpec{kind: KindExec, name: command, command: command})
	if err != nil {
		return ExecResult{}, err
	}
	return ExecResult{Code: r.ExitCode, Stdout: r.Stdout, Stderr: r.Stderr}, nil
}

// Shell runs a shell line the way cron or a systemd timer on the machine
// would: sh -c line in the charm folder, outside any hook context, with the
// hook tools (juju-exec among them) first on PATH and the agent's socket
// known, so that a line such as `juju-exec <unit> 'JUJU_DISPATCH_PATH=x
// ./dispatch'` can be run verbatim. It does not take the machine lock;
// juju-exec does.
func (s *Sim) Shell(ctx context.Context, line string) (ExecResult, error) {
	env := []string{
		"PATH=" + s.toolsDir + ":" + cmpOr(s.opts.SystemPath, DefaultSystemPath),
		hooktool.EnvSocket + "=" + s.socket,
		hooktool.EnvNetwork + "=unix",
		"LANG=C.UTF-8",
	}
	for k, v := range s.opts.Env {
		env = append(env, k+"="+v)
	}
	code, stdout, stderr, err := s.process(ctx, env, "/bin/sh", "-c", line)
	if err != nil {
		return ExecResult{}, err
	}
	return ExecResult{Code: code, Stdout: string(stdout), Stderr: string(stderr)}, nil
}

// InContext opens a hook context without running the charm: fn gets the
// environment a charm process would get (pass it to the process that runs
// the hook tools) and runs under the machine lock. path is the
// JUJU_DISPATCH_PATH: `hooks/<name>`, `actions/<name>` (params taken as
// given) or another name for a juju-exec context. fn returning an error
// counts as exit status 1: charm state changes are dropped and a hook
// leaves the unit in error.
func (s *Sim) InContext(ctx context.Context, path string, params map[string]any, fn func(env []string) error) (Run, error) {
	spec := runSpec{fn: fn, path: path}
	switch {
	case strings.HasPrefix(path, "hooks/"):
		spec.kind, spec.name = KindHook, strings.TrimPrefix(path, "hooks/")
	case strings.HasPrefix(path, "actions/"):
		spec.kind, spec.name, spec.params = KindAction, strings.TrimPrefix(path, "actions/"), params
	default:
		spec.kind, spec.name = KindExec, path
	}
	return s.run(ctx, spec)
}

func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func lastLine(s string) string {
	ls := lines([]byte(strings.TrimSpace(s)))
	if len(ls) == 0 {
		return ""
	}
	return ls[len(ls)-1]
}

// deepCopy copies nested maps and slices of JSON-like values.
func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

func deepCopyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return deepCopy(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopyValue(e)
		}
		return out
	}
	return v
}
