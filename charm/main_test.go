package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju/jujutest"
)

// builds are the simulator's hook tools and the packed charm, built once for
// the test binary as `make charm` packs it.
var builds jujutest.Builds

func TestMain(m *testing.M) {
	os.Exit(jujutest.Main(m, jujutest.MainOptions{Charm: true}, &builds))
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// deployed is a unit of the packed charm, as Juju runs it.
func deployed(t *testing.T, opts jujutest.Options) *jujutest.Sim {
	t.Helper()
	opts.Charm, opts.Tools = builds.Charm, builds.Tools
	return jujutest.Start(t, opts)
}

const plainToken = "ghp_0123456789secretTOKENvalue"

// noSocket is where lxd-socket points in these tests: nowhere, so that
// the charm stops, blocked, before it needs LXD and GitHub (the e2e
// package tests it with both).
const noSocket = "/nonexistent/lxd/unix.socket"

var validConfig = map[string]any{"path": "acme", "token": plainToken, "lxd-socket": noSocket}

// blockedOnLXD is the status of a unit whose configuration is valid but
// whose lxd-socket is not one.
var blockedOnLXD = jujutest.Status{Status: "blocked", Message: `lxd-socket "` + noSocket + `": no LXD socket there (is LXD running?)`}

func TestDeployWithDefaultsIsBlockedOnPathAndToken(t *testing.T) {
	s := deployed(t, jujutest.Options{Leader: true})
	snap, err := s.Deploy(testContext(t))
	require.NoError(t, err, "a configuration problem never fails a hook")
	require.Equal(t, "blocked", snap.UnitStatus.Status)
	require.Contains(t, snap.UnitStatus.Message, "path: missing")
	require.Contains(t, snap.UnitStatus.Message, "token: missing")
	for _, r := range s.Runs() {
		require.Equal(t, 0, r.ExitCode, r.Name)
	}
	require.Len(t, s.Runs(), 5, "install, leader-elected, config-changed, start, update-status")
}

func TestDeployWithValidConfigGoesOnToLXD(t *testing.T) {
	s := deployed(t, jujutest.Options{Config: validConfig})
	snap, err := s.Deploy(testContext(t))
	require.NoError(t, err)
	require.Equal(t, blockedOnLXD, snap.UnitStatus)

	// The token reaches no log line and no status.
	require.NotEmpty(t, s.Logs())
	for _, l := range s.Logs() {
		require.NotContains(t, l.Message, plainToken)
	}
	for _, h := range s.StatusHistory() {
		require.NotContains(t, h.Message, plainToken)
	}
}

func TestBadOptionBlocksNamingIt(t *testing.T) {
	ctx := testContext(t)
	s := deployed(t, jujutest.Options{Config: validConfig})
	_, err := s.Deploy(ctx)
	require.NoError(t, err)
	_, err = s.Configure(ctx, map[string]any{"vm-memory": "7XB"})
	require.NoError(t, err)
	require.Equal(t, jujutest.Status{Status: "blocked", Message: `vm-memory "7XB": not a size (use e.g. 512MiB or 7GiB)`}, s.UnitStatus())

	// Fixing it brings the unit back.
	_, err = s.Configure(ctx, map[string]any{"vm-memory": "8GiB"})
	require.NoError(t, err)
	require.Equal(t, blockedOnLXD, s.UnitStatus())
}

func TestSecretToken(t *testing.T) {
	ctx := testContext(t)
	s := deployed(t, jujutest.Options{})
	uri := s.AddSecret(map[string]string{"token": plainToken}, jujutest.SecretOptions{})
	require.NoError(t, s.SetConfig(map[string]any{"path": "acme/website", "token": uri, "lxd-socket": noSocket}))
	_, err := s.Deploy(ctx)
	require.NoError(t, err)
	st := s.UnitStatus()
	require.Equal(t, "blocked", st.Status)
	require.True(t, strings.HasPrefix(st.Message, "token: cannot read secret "+uri), st.Message)

	require.NoError(t, s.GrantSecret(uri))
	_, err = s.RunHook(ctx, "update-status")
	require.NoError(t, err)
	require.Equal(t, blockedOnLXD, s.UnitStatus(), "the token was read; LXD is next")
}

func TestActions(t *testing.T) {
	ctx := testContext(t)
	s := deployed(t, jujutest.Options{Config: validConfig})
	_, err := s.Deploy(ctx)
	require.NoError(t, err)

	t.Run("an action the unit cannot do yet fails, not the unit", func(t *testing.T) {
		res, err := s.RunAction(ctx, "flush-runners", map[string]any{"flush-busy": true})
		require.NoError(t, err)
		require.Equal(t, "failed", res.Status)
		require.Equal(t, "invalid configuration: "+blockedOnLXD.Message, res.Message)
		require.Equal(t, map[string]any{"flush-busy": true}, res.Params)
		require.Equal(t, 0, res.Results["return-code"])
		require.NotEqual(t, "error", s.UnitStatus().Status)
	})
	t.Run("the controller refuses an unknown action", func(t *testing.T) {
		before := len(s.Runs())
		_, err := s.RunAction(ctx, "no-such-thing", nil)
		var refused *jujutest.ActionRefusedError
		require.ErrorAs(t, err, &refused)
		require.Equal(t, `action "no-such-thing" not defined on unit "github-runner/0"`, err.Error())
		require.Len(t, s.Runs(), before, "it never reached the charm")
	})
	t.Run("the charm fails an unknown action itself", func(t *testing.T) {
		r, err := s.Dispatch(ctx, "actions/no-such-thing", nil)
		require.NoError(t, err)
		require.Equal(t, 0, r.ExitCode)
		require.Equal(t, "failed", r.Action.Status)
		require.Equal(t, `unknown action "no-such-thing"`, r.Action.Message)
	})
	t.Run("the controller refuses a bad param", func(t *testing.T) {
		before := len(s.Runs())
		_, err := s.RunAction(ctx, "flush-runners", map[string]any{"flush-busy": "yes"})
		var refused *jujutest.ActionRefusedError
		require.ErrorAs(t, err, &refused)
		require.Equal(t, `validation failed: (root).flush-busy : must be of type boolean, given "yes"`, err.Error())
		_, err = s.RunAction(ctx, "check-runners", map[string]any{"verbose": true})
		require.ErrorAs(t, err, &refused)
		require.Len(t, s.Runs(), before, "it never reached the charm")
	})
}

func TestFailingHook(t *testing.T) {
	ctx := testContext(t)
	s := deployed(t, jujutest.Options{Config: validConfig})
	_, err := s.Deploy(ctx)
	require.NoError(t, err)
	s.SetState(map[string]string{"kept": "1"})

	// The agent stops answering config-get: a passing fault, which fails
	// the hook so that Juju retries it. The state written in the same hook
	// context before the charm ran is discarded with it.
	configGet := filepath.Join(s.ToolsDir(), "config-get")
	target, err := os.Readlink(configGet)
	require.NoError(t, err)
	require.NoError(t, os.Remove(configGet))
	_, err = s.InContext(ctx, "hooks/config-changed", nil, func(env []string) error {
		if out, err := runIn(ctx, s, env, "state-set", "written=in the failing hook"); err != nil {
			return fmt.Errorf("state-set: %v: %s", err, out)
		}
		out, err := runIn(ctx, s, env, "./dispatch")
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "dispatch should fail: %s", out)
		require.Equal(t, 1, ee.ExitCode())
		return err
	})
	require.NoError(t, err)
	require.Equal(t, jujutest.Status{Status: "error", Message: `hook failed: "config-changed"`}, s.UnitStatus())
	require.Equal(t, map[string]string{"kept": "1"}, s.State())

	// As on Juju, the unit in error runs config-changed again before
	// update-status: it fails again, and update-status does not run.
	_, err = s.RunHook(ctx, "update-status")
	var inError *jujutest.UnitInErrorError
	require.ErrorAs(t, err, &inError)
	require.Equal(t, "config-changed", inError.Failed)
	require.Equal(t, jujutest.Status{Status: "error", Message: `hook failed: "config-changed"`}, s.UnitStatus())
	found := false
	for _, l := range s.Logs() {
		found = found || (l.Level == "ERROR" && strings.Contains(l.Message, "config-get") && l.Context == "hooks/config-changed")
	}
	require.True(t, found, "the fault is logged: %v", s.Logs())

	// The agent is back: the retried hook succeeds and clears the error.
	require.NoError(t, os.Symlink(target, configGet))
	_, err = s.RunHook(ctx, "update-status")
	require.NoError(t, err)
	require.Equal(t, blockedOnLXD, s.UnitStatus())
}

// runIn runs argv in the charm folder with a hook's environment.
func runIn(ctx context.Context, s *jujutest.Sim, env []string, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if !strings.Contains(argv[0], "/") {
		cmd.Path = filepath.Join(s.ToolsDir(), argv[0])
	}
	cmd.Dir, cmd.Env = s.CharmDir(), env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestCustomEventsFromJujuExec(t *testing.T) {
	ctx := testContext(t)
	s := deployed(t, jujutest.Options{})
	_, err := s.Deploy(ctx)
	require.NoError(t, err)
	require.Equal(t, "blocked", s.UnitStatus().Status)
	require.NoError(t, s.SetConfig(validConfig))

	// What a timer or cron line runs, verbatim.
	for _, event := range []string{"reconcile-runners", "build-runner-image"} {
		res, err := s.Shell(ctx, fmt.Sprintf("juju-exec %s 'JUJU_DISPATCH_PATH=%s ./dispatch'", s.Unit(), event))
		require.NoError(t, err)
		require.Equal(t, 0, res.Code, res.Stderr)
	}
	require.Equal(t, blockedOnLXD, s.UnitStatus())
	res, err := s.Exec(ctx, "JUJU_DISPATCH_PATH=reconcile-runners ./dispatch")
	require.NoError(t, err)
	require.Equal(t, 0, res.Code, res.Stderr)
}

func TestUpgradeAndRemove(t *testing.T) {
	ctx := testContext(t)
	s := deployed(t, jujutest.Options{Config: validConfig})
	_, err := s.Deploy(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Upgrade(ctx))
	require.Equal(t, blockedOnLXD, s.UnitStatus())
	require.NoError(t, s.Remove(ctx))
	require.Empty(t, s.State())
}

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     []string
		code    int
		stdout  string
		stderr  string
		noOther bool
	}{
		{name: "no args, no Juju", code: 2, stderr: "Usage: github-runner"},
		{name: "unknown command", args: []string{"bogus"}, code: 2, stderr: `unknown command "bogus"`},
		{name: "help", args: []string{"--help"}, code: 0, stdout: "reconcile            bring the runners to --virtual-machines"},
		{name: "command help", args: []string{"flush", "-h"}, code: 0, stderr: "-busy"},
		{name: "a command without a path", args: []string{"check"}, env: []string{"GITHUB_RUNNER_TOKEN=x"}, code: 2,
			stderr: "github-runner check: invalid configuration: path: missing: set an organisation or owner/repo"},
		{name: "a token on the command line is refused", args: []string{"reconcile", "--token", "ghp_x"}, code: 2,
			stderr: "a token on the command line shows in the process list"},
		{name: "no LXD where --lxd-socket points", args: []string{"check", "--path", "acme", "--lxd-socket", noSocket},
			env: []string{"GITHUB_RUNNER_TOKEN=" + plainToken}, code: 2, stderr: `lxd-socket "` + noSocket + `": no LXD socket there`},
		{name: "JUJU_DISPATCH_PATH wins over args", args: []string{"x"}, env: []string{"JUJU_DISPATCH_PATH=hooks/install", "PATH=/nonexistent"},
			code: 1, stderr: "juju-log failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(testContext(t), tc.args, tc.env, &stdout, &stderr)
			require.Equal(t, tc.code, code, stderr.String())
			require.Contains(t, stdout.String(), tc.stdout)
			require.Contains(t, stderr.String(), tc.stderr)
			require.NotContains(t, stdout.String()+stderr.String(), plainToken)
		})
	}
}

// The packed binary itself, outside Juju.
func TestBinaryOutsideJuju(t *testing.T) {
	dir := t.TempDir()
	s := deployed(t, jujutest.Options{})
	bin := filepath.Join(s.CharmDir(), "dispatch")
	cmd := exec.CommandContext(testContext(t), bin, "bogus")
	cmd.Dir, cmd.Env = dir, []string{}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	require.Equal(t, 2, ee.ExitCode())
	require.Contains(t, string(out), "Usage: github-runner")
}
