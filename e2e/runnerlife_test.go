package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

// The runner's exit codes, as actions/runner's run.sh acts on them, and a
// self-update, through the packed charm: a listener that exits 2 is
// relaunched in the same instance (the runner comes back, not replaced);
// an update offered by GitHub is installed and the new version serves a
// job; a listener that exits 1 (or 5, 7, or any other code) ends run.sh,
// the instance powers off and the timer's reconcile replaces it.
func TestRunnerExitCodesAndSelfUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-exits", nil)
	ctx := testContext(t, 5*time.Minute)
	e.deploy(ctx)
	first := e.waitOnline(ctx, 1)
	r := e.ghRunners()[0]

	// 2: retryable; run-helper.sh relaunches the listener after 5 s.
	require.NoError(t, e.gh.ExitListener(r.ID, 2))
	require.NoError(t, e.gh.WaitFor(ctx, func() bool {
		rs := e.ghRunners()
		return len(rs) == 1 && !rs[0].Online()
	}), "the listener left")
	require.Equal(t, first, e.waitOnline(ctx, 1), "the same runner is back")
	require.Equal(t, first, e.runnerInstances(ctx), "in the same instance")

	// An update: the runner downloads it, exits 4, and run.sh relaunches
	// the new version.
	require.NoError(t, e.gh.OfferRunnerUpdate("2.999.0"))
	updated, err := e.gh.WaitForRunner(ctx, org, first[0], func(r githubtest.Runner, ok bool) bool {
		return ok && r.Online() && r.Version == "2.999.0"
	})
	require.NoError(t, err, "%s", e.logTail(20))
	require.Equal(t, r.ID, updated.ID)
	job := e.gh.QueueJob([]string{"self-hosted"}, time.Second)
	done, err := e.gh.WaitForJob(ctx, job, githubtest.JobCompleted)
	require.NoError(t, err)
	require.Equal(t, githubtest.ConclusionSuccess, done.Conclusion, "job failure: %s", done.Failure)
	require.Equal(t, first[0], done.RunnerName)
	require.NoError(t, e.gh.WaitFor(ctx, func() bool { return len(e.instances(ctx)) == 0 }), "the ephemeral runner's instance goes")

	// 1 (or 5, 7 without ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE,
	// or any other): run.sh ends, the instance powers off and goes, and a
	// reconcile replaces the runner.
	res, err := e.sim.Dispatch(ctx, "reconcile-runners", nil)
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode)
	second := e.waitOnline(ctx, 1)
	require.NotEqual(t, first, second)
	for _, code := range []int{1, 7} {
		r := e.ghRunners()[0]
		require.NoError(t, e.gh.ExitListener(r.ID, code))
		require.NoError(t, e.gh.WaitFor(ctx, func() bool { return len(e.runnerInstances(ctx)) == 0 }), "exit %d ends the runner", code)
		res, err := e.sim.Dispatch(ctx, "reconcile-runners", nil)
		require.NoError(t, err)
		require.Equal(t, 0, res.ExitCode)
		e.waitOnline(ctx, 1)
	}
}
