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

	reset := time.Now().Add(30 * time.Minute)
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

	e.gh.SetRateRemaining(adminToken, 5000)
	e.hook(ctx, "update-status")
	require.Equal(t, jujutest.Status{Status: "active", Message: "1/1 runner online"}, e.sim.UnitStatus())

	remove := e.gh.InjectFault(githubtest.Fault{Method: http.MethodGet, Path: "/orgs/{org}/actions/runners", Status: http.StatusBadGateway})
	_, err = e.sim.RunHook(ctx, "update-status")
	var failed *jujutest.HookFailedError
	require.True(t, errors.As(err, &failed), "a 5xx fails the hook: %v", err)
	require.Equal(t, jujutest.Status{Status: "error", Message: `hook failed: "update-status"`}, e.sim.UnitStatus())
	act, err := e.sim.RunAction(ctx, "check-runners", nil)
	require.NoError(t, err)
	require.Equal(t, "failed", act.Status)
	require.Contains(t, act.Message, "502")

	remove()
	e.hook(ctx, "update-status")
	require.Equal(t, jujutest.Status{Status: "active", Message: "1/1 runner online"}, e.sim.UnitStatus())
	require.Equal(t, runners, names(e.ghRunners()))
}
