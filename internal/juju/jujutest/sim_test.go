package jujutest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju/jujutest"
)

// A dispatch that acts on the event it is given.
const scriptedDispatch = `
case "$JUJU_DISPATCH_PATH" in
hooks/install) status-set maintenance "installing" ;;
hooks/start) status-set active "ready" ;;
hooks/fail) state-set from-failing=1; status-set blocked "about to fail"; echo "going down" >&2; exit 3 ;;
hooks/ok) state-set from-ok="$(state-get from-ok)x" ;;
hooks/flaky) status-set active "flaky ran"; [ -f ./flaky.ok ] || exit 1 ;;
hooks/env) env; echo "cwd=$(pwd)"; echo "stdin=$(readlink /proc/self/fd/0)" ;;
actions/greet)
	who=$(action-get who)
	action-log "greeting $who"
	action-set greeting="hello $who" loud="$(action-get loud)"
	echo "printed" ;;
actions/fail) action-set partial=1; exit 4 ;;
actions/*) action-fail "unknown action: $JUJU_ACTION_NAME" ;;
custom-event) state-set custom="$JUJU_DISPATCH_PATH" ; echo "custom ran" ;;
esac
`

func TestEnvironmentIsCleanAndJujus(t *testing.T) {
	t.Setenv("LEAKED_FROM_TEST", "1")
	s := startSim(t, scriptedDispatch, jujutest.Options{
		Unit:       "testcharm/4",
		HTTPSProxy: "http://proxy:3128",
		Env:        map[string]string{"EXTRA": "passed on", "JUJU_UNIT_NAME": "overridden?"},
	})
	r, err := s.RunHook(testContext(t), "env")
	require.NoError(t, err)
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	for _, absent := range []string{"HOME", "USER", "LEAKED_FROM_TEST", "JUJU_ACTION_NAME"} {
		require.NotContains(t, env, absent)
	}
	want := map[string]string{
		"JUJU_DISPATCH_PATH":        "hooks/env",
		"JUJU_HOOK_NAME":            "env",
		"JUJU_UNIT_NAME":            "testcharm/4",
		"JUJU_CHARM_DIR":            s.CharmDir(),
		"CHARM_DIR":                 s.CharmDir(),
		"JUJU_MODEL_NAME":           "test-model",
		"JUJU_VERSION":              "3.6.4",
		"JUJU_MACHINE_ID":           "0",
		"JUJU_CHARM_HTTPS_PROXY":    "http://proxy:3128",
		"JUJU_CHARM_HTTP_PROXY":     "",
		"JUJU_CHARM_NO_PROXY":       "",
		"JUJU_AGENT_SOCKET_NETWORK": "unix",
		"EXTRA":                     "passed on",
		"cwd":                       s.CharmDir(),
		"stdin":                     "/dev/null",
	}
	for k, v := range want {
		require.Equal(t, v, env[k], k)
	}
	require.True(t, strings.HasPrefix(env["PATH"], s.ToolsDir()+":"), env["PATH"])
	require.NotEmpty(t, env["JUJU_CONTEXT_ID"])
	require.Equal(t, r.ContextID, env["JUJU_CONTEXT_ID"])
}

func TestDeployOrderAndStatus(t *testing.T) {
	s := startSim(t, scriptedDispatch, jujutest.Options{Leader: true})
	snap, err := s.Deploy(testContext(t))
	require.NoError(t, err)
	require.Equal(t, jujutest.Status{Status: "active", Message: "ready"}, snap.UnitStatus)
	require.True(t, snap.Leader)
	var names []string
	for _, r := range s.Runs() {
		names = append(names, r.Kind+":"+r.Name)
	}
	require.Equal(t, []string{"hook:install", "hook:leader-elected", "hook:config-changed", "hook:start", "hook:update-status"}, names)
	var history []string
	for _, h := range s.StatusHistory() {
		history = append(history, h.Target+" "+h.Status.String())
	}
	require.Equal(t, []string{"unit maintenance: installing charm software", "unit maintenance: installing", "unit active: ready"}, history)

	// A non-leader skips leader-elected.
	s2 := startSim(t, scriptedDispatch, jujutest.Options{})
	_, err = s2.Deploy(testContext(t))
	require.NoError(t, err)
	require.Len(t, s2.Runs(), 4)
}

func TestFailingHookLeavesErrorAndDropsState(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, scriptedDispatch, jujutest.Options{})
	s.SetState(map[string]string{"kept": "yes"})
	require.NoError(t, s.RunHooks(ctx, "install", "start"))

	r, err := s.RunHook(ctx, "fail")
	var hf *jujutest.HookFailedError
	require.ErrorAs(t, err, &hf)
	require.Equal(t, "fail", hf.Hook)
	require.Equal(t, 3, hf.ExitCode)
	require.Equal(t, 3, r.ExitCode)
	require.Contains(t, err.Error(), "going down")
	require.Equal(t, jujutest.Status{Status: "error", Message: `hook failed: "fail"`}, s.UnitStatus())
	require.Equal(t, map[string]string{"kept": "yes"}, s.State(), "state-set in a failing hook is discarded")
	require.Contains(t, s.Logs(), jujutest.LogLine{Level: "WARNING", Message: "going down", Context: "hooks/fail"})

	// As on Juju, no other hook runs while the unit is in error: the failed
	// hook is retried first, with back-off, and fails again here.
	_, err = s.RunHook(ctx, "ok")
	var inError *jujutest.UnitInErrorError
	require.ErrorAs(t, err, &inError)
	require.Equal(t, "ok", inError.Hook)
	require.Equal(t, "fail", inError.Failed)
	require.Equal(t, map[string]string{"kept": "yes"}, s.State(), "ok did not run")
	r, err = s.RetryFailedHook(ctx)
	require.ErrorAs(t, err, &hf)
	require.Equal(t, &jujutest.HookRetry{Attempt: 2, BackOff: 10 * time.Second}, r.Retry)
	runs := s.Runs()
	require.Equal(t, &jujutest.HookRetry{Attempt: 1, BackOff: 5 * time.Second}, runs[len(runs)-2].Retry)
	require.Equal(t, jujutest.Status{Status: "error", Message: `hook failed: "fail"`}, s.UnitStatus())

	// `juju resolved --no-retry` skips it: the unit shows what the charm set.
	_, err = s.Resolved(ctx, jujutest.ResolvedOptions{NoRetry: true})
	require.NoError(t, err)
	require.Equal(t, jujutest.Status{Status: "blocked", Message: "about to fail"}, s.UnitStatus())
	_, err = s.RunHook(ctx, "ok")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"kept": "yes", "from-ok": "x"}, s.State())
	_, err = s.RunHook(ctx, "ok")
	require.NoError(t, err)
	require.Equal(t, "xx", s.State()["from-ok"])

	h := s.StatusHistory()
	require.Equal(t, jujutest.Status{Status: "error", Message: `hook failed: "fail"`}, h[len(h)-2].Status)
	require.Equal(t, jujutest.Status{Status: "blocked", Message: "about to fail"}, h[len(h)-1].Status)
}

// A failed hook that succeeds on its retry takes the unit out of error, and
// the hook that waited runs after it; `juju resolved` retries at once.
func TestFailedHookRetriedBeforeAnythingElse(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, scriptedDispatch, jujutest.Options{})
	_, err := s.RunHook(ctx, "flaky")
	require.Error(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(s.CharmDir(), "flaky.ok"), nil, 0o644))
	_, err = s.RunHook(ctx, "ok")
	require.NoError(t, err)
	runs := s.Runs()
	require.Equal(t, "flaky", runs[len(runs)-2].Name, "the failed hook ran again first")
	require.Equal(t, 0, runs[len(runs)-2].ExitCode)
	require.Equal(t, "ok", runs[len(runs)-1].Name)
	require.Equal(t, "x", s.State()["from-ok"])

	require.NoError(t, os.Remove(filepath.Join(s.CharmDir(), "flaky.ok")))
	_, err = s.RunHook(ctx, "flaky")
	require.Error(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(s.CharmDir(), "flaky.ok"), nil, 0o644))
	r, err := s.Resolved(ctx, jujutest.ResolvedOptions{})
	require.NoError(t, err)
	require.Equal(t, "flaky", r.Name)
	require.Equal(t, "active", s.UnitStatus().Status)
}

func TestActions(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, scriptedDispatch, jujutest.Options{})

	t.Run("defaults inserted, results and logs returned", func(t *testing.T) {
		res, err := s.RunAction(ctx, "greet", nil)
		require.NoError(t, err)
		require.Equal(t, "completed", res.Status)
		require.Equal(t, map[string]any{"greeting": "hello world", "loud": "False", "return-code": 0, "stdout": "printed\n"}, res.Results)
		require.Equal(t, []string{"greeting world"}, res.Logs)
		require.Equal(t, map[string]any{"who": "world", "loud": false}, res.Params)
	})
	t.Run("params given", func(t *testing.T) {
		res, err := s.RunAction(ctx, "greet", map[string]any{"who": "you", "loud": true})
		require.NoError(t, err)
		require.Equal(t, "hello you", res.Results["greeting"])
		require.Equal(t, "True", res.Results["loud"])
	})
	t.Run("a bad param never reaches the charm", func(t *testing.T) {
		before := len(s.Runs())
		_, err := s.RunAction(ctx, "greet", map[string]any{"loud": "yes"})
		var refused *jujutest.ActionRefusedError
		require.ErrorAs(t, err, &refused)
		require.Equal(t, `validation failed: (root).loud : must be of type boolean, given "yes"`, err.Error())
		_, err = s.RunAction(ctx, "greet", map[string]any{"colour": "red"})
		require.ErrorAs(t, err, &refused)
		require.Contains(t, err.Error(), `additional property "colour" is not allowed`)
		require.Len(t, s.Runs(), before)
	})
	t.Run("unknown action is refused", func(t *testing.T) {
		_, err := s.RunAction(ctx, "no-such-thing", nil)
		var refused *jujutest.ActionRefusedError
		require.ErrorAs(t, err, &refused)
		require.Equal(t, `action "no-such-thing" not defined on unit "testcharm/0"`, err.Error())
	})
	t.Run("non-zero exit fails the action, never the unit", func(t *testing.T) {
		res, err := s.RunAction(ctx, "fail", nil)
		require.NoError(t, err)
		require.Equal(t, "failed", res.Status)
		require.Equal(t, "exit status 4", res.Message)
		require.Equal(t, 4, res.Results["return-code"])
		require.Equal(t, "1", res.Results["partial"])
		require.NotEqual(t, "error", s.UnitStatus().Status)
	})
	t.Run("dispatch below the controller", func(t *testing.T) {
		r, err := s.Dispatch(ctx, "actions/no-such-thing", nil)
		require.NoError(t, err)
		require.Equal(t, "failed", r.Action.Status)
		require.Equal(t, "unknown action: no-such-thing", r.Action.Message)
	})
}

func TestActionNotImplementedWithoutDispatch(t *testing.T) {
	s := startSim(t, "", jujutest.Options{})
	ctx := testContext(t)
	res, err := s.RunAction(ctx, "greet", nil)
	require.NoError(t, err)
	require.Equal(t, "failed", res.Status)
	require.Equal(t, `action not implemented on unit "testcharm/0"`, res.Message)
	// A missing hook is a success.
	_, err = s.RunHook(ctx, "install")
	require.NoError(t, err)
}

func TestDispatchWithoutExecBitFails(t *testing.T) {
	s := startSim(t, scriptedDispatch, jujutest.Options{})
	require.NoError(t, os.Chmod(filepath.Join(s.CharmDir(), "dispatch"), 0o644))
	_, err := s.RunHook(testContext(t), "install")
	var hf *jujutest.HookFailedError
	require.ErrorAs(t, err, &hf)
	require.Equal(t, jujutest.Status{Status: "error", Message: `hook failed: "install"`}, s.UnitStatus())
}

func TestJujuExec(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, scriptedDispatch, jujutest.Options{})

	t.Run("a cron line verbatim dispatches the custom event", func(t *testing.T) {
		res, err := s.Shell(ctx, `juju-exec testcharm/0 'JUJU_DISPATCH_PATH=custom-event ./dispatch'`)
		require.NoError(t, err)
		require.Equal(t, 0, res.Code, res.Stderr)
		require.Equal(t, "custom ran\n", res.Stdout)
		require.Equal(t, "custom-event", s.State()["custom"])
		runs := s.Runs()
		require.Equal(t, jujutest.KindExec, runs[len(runs)-1].Kind)
	})
	t.Run("Exec runs a command in a hook context", func(t *testing.T) {
		res, err := s.Exec(ctx, "state-set via=exec && echo done; is-leader")
		require.NoError(t, err)
		require.Equal(t, jujutest.ExecResult{Code: 0, Stdout: "done\nFalse\n"}, res)
		require.Equal(t, "exec", s.State()["via"])
	})
	t.Run("exit status passed on, state dropped, unit not in error", func(t *testing.T) {
		res, err := s.Exec(ctx, "state-set dropped=1; echo oops >&2; exit 5")
		require.NoError(t, err)
		require.Equal(t, jujutest.ExecResult{Code: 5, Stderr: "oops\n"}, res)
		require.NotContains(t, s.State(), "dropped")
		require.NotEqual(t, "error", s.UnitStatus().Status)
	})
	for _, tc := range []struct {
		line, stderr string
		code         int
	}{
		{`juju-exec`, "ERROR missing unit-name\n", 2},
		{`juju-exec testcharm/0`, "ERROR missing commands\n", 2},
		{`juju-exec other/0 true`, "ERROR unit \"other/0\" not found on this machine\n", 1},
		{`action-get`, "ERROR JUJU_CONTEXT_ID not set: not in a hook context\n", 1},
	} {
		t.Run(tc.line, func(t *testing.T) {
			res, err := s.Shell(ctx, tc.line)
			require.NoError(t, err)
			require.Equal(t, tc.code, res.Code)
			require.Equal(t, tc.stderr, res.Stderr)
		})
	}
	t.Run("refused inside a hook", func(t *testing.T) {
		_, err := s.InContext(ctx, "hooks/update-status", nil, func(env []string) error {
			got, err := runTool(ctx, s, env, "", "juju-exec", "testcharm/0", "true")
			require.NoError(t, err)
			require.Equal(t, 1, got.code)
			require.Contains(t, got.stderr, "juju-exec cannot be called from within a hook")
			return nil
		})
		require.NoError(t, err)
	})
	t.Run("refused with any JUJU_CONTEXT_ID, even a finished one's", func(t *testing.T) {
		res, err := s.Shell(ctx, `JUJU_CONTEXT_ID=testcharm/0-gone-1 juju-exec testcharm/0 true`)
		require.NoError(t, err)
		require.Equal(t, 1, res.Code)
		require.Contains(t, res.Stderr, `have context "testcharm/0-gone-1"`)
	})
	t.Run("runs its commands with bash in the charm folder", func(t *testing.T) {
		res, err := s.Shell(ctx, `juju-exec testcharm/0 '[[ -n $BASH_VERSION ]] && pwd'`)
		require.NoError(t, err)
		require.Equal(t, 0, res.Code, res.Stderr)
		require.Equal(t, s.CharmDir()+"\n", res.Stdout)
	})
}

func TestMachineLock(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, scriptedDispatch, jujutest.Options{})
	_, err := s.InContext(ctx, "hooks/update-status", nil, func([]string) error {
		// While this context holds the lock, no other hook can start.
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := s.RunHook(short, "ok")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "machine lock")
		return nil
	})
	require.NoError(t, err)
	_, err = s.RunHook(ctx, "ok")
	require.NoError(t, err)
}

func TestToolAfterTheHookEnded(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, "", jujutest.Options{})
	var kept []string
	_, err := s.InContext(ctx, "hooks/install", nil, func(env []string) error {
		kept = env
		return nil
	})
	require.NoError(t, err)
	got, err := runTool(ctx, s, kept, "", "is-leader")
	require.NoError(t, err)
	require.Equal(t, 1, got.code)
	require.Contains(t, got.stderr, "unknown context")
}

func TestCancelledHookIsKilled(t *testing.T) {
	s := startSim(t, "state-set x=1; sleep 600", jujutest.Options{})
	ctx, cancel := context.WithTimeout(testContext(t), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.RunHook(ctx, "install")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 30*time.Second)
	require.Empty(t, s.State())
}

func TestSetConfig(t *testing.T) {
	s := startSim(t, "", jujutest.Options{Config: map[string]any{"count": 5}})
	require.Equal(t, int64(5), s.Config()["count"])
	for _, tc := range []struct {
		values map[string]any
		err    string
		want   map[string]any
	}{
		{values: map[string]any{"nope": "x"}, err: `unknown option "nope"`},
		{values: map[string]any{"nope": nil}, err: `unknown option "nope"`},
		{values: map[string]any{"count": 2.5}, err: `option "count" expected int, got 2.5`},
		{values: map[string]any{"count": "many"}, err: `option "count" expected int, got "many"`},
		{values: map[string]any{"enabled": "maybe"}, err: `option "enabled" expected boolean`},
		{values: map[string]any{"count": float64(9)}, want: map[string]any{"count": int64(9)}},
		{values: map[string]any{"count": "11", "enabled": true}, want: map[string]any{"count": int64(11), "enabled": true}},
		{values: map[string]any{"count": nil}, want: map[string]any{"count": int64(3)}},
		{values: map[string]any{"nodefault": "set"}, want: map[string]any{"nodefault": "set"}},
	} {
		err := s.SetConfig(tc.values)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		for k, v := range tc.want {
			require.Equal(t, v, s.Config()[k], k)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opts jujutest.Options
		err  string
	}{
		{jujutest.Options{CharmDir: "x"}, "Options.Tools is required"},
		{jujutest.Options{Tools: builds.Tools}, "exactly one of"},
		{jujutest.Options{Tools: builds.Tools, CharmDir: "/nonexistent"}, "no such file"},
	} {
		_, err := jujutest.New(tc.opts)
		require.ErrorContains(t, err, tc.err)
	}
	_, err := jujutest.New(jujutest.Options{Tools: builds.Tools, CharmDir: writeCharm(t, ""), Unit: "nounit"})
	require.ErrorContains(t, err, "is not <application>/<number>")
	require.False(t, errors.Is(err, os.ErrNotExist))
}
