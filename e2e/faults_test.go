package e2e

import (
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/juju/jujutest"
)

// A spent GitHub rate limit is a Waiting status saying when it lifts; the
// hook succeeds (no retry loop). A GitHub 5xx is a passing fault: the hook
// fails so that Juju retries it, and the retry succeeds once GitHub is
// back.
func TestGitHubTroubles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-faults", nil)
	ctx := testContext(t, 4*time.Minute)
	e.deploy(ctx)
	runners := e.waitOnline(ctx, 1)

	// A limit that lifts within the test: the unit remembers the reset
	// (hook processes share it through the state folder) and asks GitHub
	// nothing until then, as GitHub's own window says.
	reset := time.Now().Add(20 * time.Second)
	e.gh.SetRateRemaining(adminToken, 0)
	e.gh.SetRateReset(adminToken, reset)
	for _, hook := range []string{"update-status", "config-changed"} {
		e.hook(ctx, hook)
		st := e.sim.UnitStatus()
		require.Equal(t, "waiting", st.Status, hook)
		require.Regexp(t, regexp.MustCompile(`^GitHub rate limit reached; resumes at \d\d:\d\d UTC$`), st.Message)
		want := reset.UTC().Truncate(time.Minute).Add(time.Minute).Format("15:04")
		require.Contains(t, st.Message, want)
	}
	res, err := e.sim.Dispatch(ctx, "reconcile-runners", nil)
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, "the timer's event is not an error either")
	require.Equal(t, runners, names(e.ghRunners()))

	// The window resets.
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(time.Until(reset) + time.Second):
	}
	e.gh.SetRateRemaining(adminToken, 5000)
	e.hook(ctx, "update-status")
	require.Equal(t, jujutest.Status{Status: "active", Message: "1/1 runner online"}, e.sim.UnitStatus())

	// A GitHub 5xx during update-status, which recurs by itself, is a
	// Waiting status: the unit stays out of error, so that nothing (a
	// config-changed, a stop) waits behind a failed hook.
	remove := e.gh.InjectFault(githubtest.Fault{Method: http.MethodGet, Path: "/orgs/{org}/actions/runners", Status: http.StatusBadGateway})
	run, err := e.sim.RunHook(ctx, "update-status")
	require.NoError(t, err, "update-status during an outage succeeds")
	require.Equal(t, 0, run.ExitCode)
	require.Equal(t, "waiting", e.sim.UnitStatus().Status)
	require.Contains(t, e.sim.UnitStatus().Message, "retrying at the next periodic run")
	act, err := e.sim.RunAction(ctx, "check-runners", nil)
	require.NoError(t, err)
	require.Equal(t, "failed", act.Status)
	require.Contains(t, act.Message, "502")

	// A 5xx in config-changed fails it: Juju retries it, before anything
	// else, until GitHub is back.
	_, err = e.sim.RunHook(ctx, "config-changed")
	var failed *jujutest.HookFailedError
	require.True(t, errors.As(err, &failed), "a 5xx fails config-changed: %v", err)
	require.Equal(t, jujutest.Status{Status: "error", Message: `hook failed: "config-changed"`}, e.sim.UnitStatus())
	_, err = e.sim.RunHook(ctx, "update-status")
	var inError *jujutest.UnitInErrorError
	require.True(t, errors.As(err, &inError), "update-status waits behind the failed hook: %v", err)

	remove()
	retry, err := e.sim.RetryFailedHook(ctx)
	require.NoError(t, err)
	require.Equal(t, "config-changed", retry.Name)
	require.NotNil(t, retry.Retry)
	e.hook(ctx, "update-status")
	require.Equal(t, jujutest.Status{Status: "active", Message: "1/1 runner online"}, e.sim.UnitStatus())
	require.Equal(t, runners, names(e.ghRunners()))
}

// A failed install (GitHub down) puts the unit in error; Juju retries it
// and, with GitHub back, the retry succeeds and the deployment goes on.
// Stop and remove during an outage still leave no instance behind.
func TestHookErrorsDuringAnOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-hookerr", nil)
	ctx := testContext(t, 4*time.Minute)

	remove := e.gh.InjectFault(githubtest.Fault{Status: http.StatusServiceUnavailable})
	_, err := e.sim.RunHook(ctx, "install")
	var failed *jujutest.HookFailedError
	require.True(t, errors.As(err, &failed), "install fails while GitHub is down: %v", err)
	require.Equal(t, jujutest.Status{Status: "error", Message: `hook failed: "install"`}, e.sim.UnitStatus())
	remove()
	retry, err := e.sim.RetryFailedHook(ctx)
	require.NoError(t, err, "the retried install succeeds: %s", e.logTail(30))
	require.Equal(t, "install", retry.Name)
	require.NoError(t, e.sim.RunHooks(ctx, "config-changed", "start"))
	e.waitOnline(ctx, 1)
	require.NotEmpty(t, e.instances(ctx))

	// GitHub goes away for good; the unit is removed.
	e.gh.InjectFault(githubtest.Fault{Drop: true})
	require.NoError(t, e.sim.Remove(ctx), "stop and remove complete during an outage: %s", e.logTail(30))
	require.Empty(t, e.instances(ctx), "no instance is left behind")
	require.Empty(t, e.sim.OwnedSecrets(), "remove takes the credentials secret away")
}
