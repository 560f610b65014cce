package hooks_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/hooks"
	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/juju/jujutest"
	"charm.example/github-runner/internal/pool"
)

// dispatchIn runs hooks.Dispatch in a context of s for path, with the real
// juju.Client on the simulator's tools, as the charm binary would; a
// non-zero exit status ends the context as a failure.
func dispatchIn(t *testing.T, s *jujutest.Sim, path string, params map[string]any, h hooks.Handlers) (int, jujutest.Run) {
	t.Helper()
	code := -1
	r, err := s.InContext(testContext(t), path, params, func(env []string) error {
		client := juju.NewClient(juju.ExecRunner{Env: env}, juju.ParseEnv(env))
		log := slog.New(juju.NewLogHandler(client, juju.LogHandlerOptions{Level: slog.LevelDebug}))
		code = hooks.Dispatch(testContext(t), client, log, h)
		if code != 0 {
			return fmt.Errorf("exit status %d", code)
		}
		return nil
	})
	require.NoError(t, err)
	return code, r
}

func hasLog(s *jujutest.Sim, level, substr string) bool {
	for _, l := range s.Logs() {
		if l.Level == level && strings.Contains(l.Message, substr) {
			return true
		}
	}
	return false
}

func TestDispatchClassifies(t *testing.T) {
	configErr := &config.Error{Problems: []config.Problem{
		{Option: "path", Text: "path: missing"}, {Option: "vm-cpu", Text: "vm-cpu 0: at least 1"},
	}}
	reset := time.Now().Add(10 * time.Minute).UTC()
	resumeAt := reset.Truncate(time.Minute).Add(time.Minute).Format("15:04") + " UTC"
	badToken := &pool.GitHubError{Path: "acme", Err: fmt.Errorf("cannot list runners: %w",
		&github.APIError{Endpoint: "GET /orgs/{org}/actions/runners", StatusCode: 401, Kind: github.ErrBadCredentials})}
	rateLimited := fmt.Errorf("cannot list runners: %w", &github.RateLimitError{Endpoint: "GET /orgs/{org}/actions/runners", StatusCode: 403, Reset: reset})
	serverError := &pool.GitHubError{Path: "acme", Err: &github.APIError{Endpoint: "GET /orgs/{org}/actions/runners", StatusCode: 502, Kind: github.ErrServer}}
	var seen []string
	record := func(ret error) hooks.Handler {
		return func(ctx context.Context, ev hooks.Event) error {
			seen = append(seen, ev.Kind.String()+":"+ev.Name)
			return ret
		}
	}
	h := hooks.Handlers{
		Hooks: map[string]hooks.Handler{
			"install":        record(nil),
			"config-changed": record(configErr),
			"start":          record(errors.New("lxd is not answering")),
			"update-status":  func(context.Context, hooks.Event) error { panic("boom") },
		},
		Actions: map[string]hooks.Handler{
			"ok": func(ctx context.Context, ev hooks.Event) error {
				return ev.Juju.ActionSet(ctx, map[string]any{"done": true})
			},
			"broken":  record(errors.New("github said 502")),
			"blocked": record(configErr),
		},
		Events: map[string]hooks.Handler{"reconcile-runners": record(nil), "build-runner-image": record(rateLimited),
			"reconcile-in-outage": record(serverError)},
	}
	h.Hooks["leader-elected"] = record(badToken)
	h.Hooks["upgrade-charm"] = record(rateLimited)
	h.Hooks["stop"] = record(serverError)
	h.Actions["refused"] = record(badToken)

	for _, tc := range []struct {
		name   string
		path   string
		code   int
		status jujutest.Status
		action *jujutest.ActionResult // Status and Message checked
		log    [2]string              // level, substring
	}{
		{name: "success", path: "hooks/install", code: 0, status: jujutest.Status{Status: "maintenance", Message: "installing charm software"}},
		{name: "config problem blocks and succeeds", path: "hooks/config-changed", code: 0,
			status: jujutest.Status{Status: "blocked", Message: "path: missing; vm-cpu 0: at least 1"},
			log:    [2]string{"WARNING", "blocked until the operator acts"}},
		{name: "a rejected token blocks and succeeds", path: "hooks/leader-elected", code: 0,
			status: jujutest.Status{Status: "blocked", Message: "token: rejected by GitHub (bad credentials)"}},
		{name: "a rate limit waits and succeeds", path: "hooks/upgrade-charm", code: 0,
			status: jujutest.Status{Status: "waiting", Message: "GitHub rate limit reached; resumes at " + resumeAt},
			log:    [2]string{"WARNING", "waiting; the next hook or timer run tries again"}},
		{name: "a rate limit in the timer's event waits", path: "build-runner-image", code: 0,
			status: jujutest.Status{Status: "waiting", Message: "GitHub rate limit reached; resumes at " + resumeAt}},
		{name: "a GitHub 5xx fails the hook", path: "hooks/stop", code: 1,
			status: jujutest.Status{Status: "error", Message: `hook failed: "stop"`}},
		{name: "an action meeting a rejected token fails, blocking the unit", path: "actions/refused", code: 0,
			status: jujutest.Status{Status: "blocked", Message: "token: rejected by GitHub (bad credentials)"},
			action: &jujutest.ActionResult{Status: "failed", Message: "token: rejected by GitHub (bad credentials)"}},
		{name: "passing fault fails the hook", path: "hooks/start", code: 1,
			status: jujutest.Status{Status: "error", Message: `hook failed: "start"`},
			log:    [2]string{"ERROR", "failed; Juju will retry kind=hook event=start err=\"lxd is not answering\""}},
		// Periodic events: a passing fault sets a status and succeeds, so that
		// the unit is not in error (which would hold back every other hook).
		{name: "a GitHub 5xx in the timer's event waits and succeeds", path: "reconcile-in-outage", code: 0,
			status: jujutest.Status{Status: "waiting", Message: "GitHub or LXD did not answer; retrying at the next periodic run (see juju debug-log)"},
			log:    [2]string{"WARNING", "passing fault; the next periodic run tries again"}},
		{name: "panic fails even a periodic hook", path: "hooks/update-status", code: 1,
			status: jujutest.Status{Status: "error", Message: `hook failed: "update-status"`},
			log:    [2]string{"ERROR", "internal error: boom"}},
		{name: "unknown hook is a no-op", path: "hooks/collect-metrics", code: 0,
			log: [2]string{"DEBUG", "no handler: nothing to do kind=hook event=collect-metrics"}},
		{name: "custom event", path: "reconcile-runners", code: 0},
		{name: "unknown custom event is a no-op", path: "who-knows", code: 0},
		{name: "action ok", path: "actions/ok", code: 0, action: &jujutest.ActionResult{Status: "completed"}},
		{name: "action fault fails the action, not the unit", path: "actions/broken", code: 0,
			action: &jujutest.ActionResult{Status: "failed", Message: "github said 502"}},
		{name: "action config problem", path: "actions/blocked", code: 0,
			status: jujutest.Status{Status: "blocked", Message: "path: missing; vm-cpu 0: at least 1"},
			action: &jujutest.ActionResult{Status: "failed", Message: "invalid configuration: path: missing; vm-cpu 0: at least 1"}},
		{name: "unknown action", path: "actions/no-such-thing", code: 0,
			action: &jujutest.ActionResult{Status: "failed", Message: `unknown action "no-such-thing"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t, jujutest.Options{})
			code, r := dispatchIn(t, s, tc.path, nil, h)
			require.Equal(t, tc.code, code)
			if tc.status.Status != "" {
				require.Equal(t, tc.status, s.UnitStatus())
			}
			if tc.action != nil {
				require.NotNil(t, r.Action)
				require.Equal(t, tc.action.Status, r.Action.Status)
				require.Equal(t, tc.action.Message, r.Action.Message)
			}
			if tc.log[0] != "" {
				require.True(t, hasLog(s, tc.log[0], tc.log[1]), "no %s log with %q in %v", tc.log[0], tc.log[1], s.Logs())
			}
		})
	}
	require.Contains(t, seen, "event:reconcile-runners")
}

func TestDispatchWithoutEvent(t *testing.T) {
	s := startSim(t, jujutest.Options{})
	_, err := s.InContext(testContext(t), "hooks/install", nil, func(env []string) error {
		var clean []string
		for _, kv := range env {
			if !strings.HasPrefix(kv, "JUJU_DISPATCH_PATH=") {
				clean = append(clean, kv)
			}
		}
		client := juju.NewClient(juju.ExecRunner{Env: clean}, juju.ParseEnv(clean))
		require.Equal(t, hooks.ExitUsage, hooks.Dispatch(testContext(t), client, slog.New(juju.NewLogHandler(client, juju.LogHandlerOptions{})), hooks.Handlers{}))
		return nil
	})
	require.NoError(t, err)
}
