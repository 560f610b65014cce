package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

// Each action, with its results.
func TestActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-actions", map[string]any{"virtual-machines": 2})
	ctx := testContext(t, 4*time.Minute)
	e.deploy(ctx)
	start := e.waitOnline(ctx, 2)

	// reconcile-runners: nothing to do, then the replacement of a runner
	// that took its one job.
	res := e.action(ctx, "reconcile-runners", nil)
	require.Equal(t, "0", res.Results["delta"])
	require.Equal(t, "2", res.Results["wanted"])
	require.Equal(t, "0", res.Results["created"])

	job := e.gh.QueueJob([]string{"self-hosted"}, time.Second)
	done, err := e.gh.WaitForJob(ctx, job, githubtest.JobCompleted)
	require.NoError(t, err)
	require.NoError(t, e.gh.WaitFor(ctx, func() bool { return len(e.runnerInstances(ctx)) == 1 }))
	res = e.action(ctx, "reconcile-runners", nil)
	require.Equal(t, "1", res.Results["delta"], "%v", res.Results)
	require.Equal(t, "1", res.Results["created"])
	require.Equal(t, "2", res.Results["after"])
	require.NotContains(t, res.Results["created-runners"], done.RunnerName)
	second := e.waitOnline(ctx, 2)
	require.Contains(t, second, otherThan(start, done.RunnerName))

	// check-runners with a busy runner.
	busyJob := e.gh.QueueJob([]string{"self-hosted"}, 5*time.Minute)
	running, err := e.gh.WaitForJob(ctx, busyJob, githubtest.JobInProgress)
	require.NoError(t, err)
	res = e.action(ctx, "check-runners", nil)
	require.Equal(t, "2", res.Results["online"])
	require.Equal(t, "1", res.Results["busy"])
	require.Equal(t, "1", res.Results["idle"])
	require.Equal(t, running.RunnerName, res.Results["busy-runners"])

	// flush-runners leaves the busy runner alone by default.
	res = e.action(ctx, "flush-runners", nil)
	require.Equal(t, "1", res.Results["removed"])
	require.Equal(t, "1", res.Results["busy-left"])
	require.NotContains(t, res.Results["removed-runners"], running.RunnerName)
	require.Equal(t, map[string]any{"flush-busy": false}, res.Params)
	require.NotEmpty(t, res.Logs, "progress is reported")
	_, ok := e.gh.RunnerByName(org, running.RunnerName)
	require.True(t, ok, "the busy runner is still there")

	// build-image rebuilds the image.
	image := e.imageFingerprint(ctx)
	res = e.action(ctx, "build-image", nil)
	require.Equal(t, e.prefix+"image", res.Results["image"])
	require.Equal(t, "2.319.1", res.Results["runner-version"])
	require.NotEqual(t, image, e.imageFingerprint(ctx))

	// update-runner-bin: the simulator offers one version.
	res = e.action(ctx, "update-runner-bin", nil)
	require.Equal(t, "false", res.Results["updated"])
	require.Equal(t, "2.319.1", res.Results["version"])
	require.Equal(t, "runner application 2.319.1 is the newest; nothing to do", res.Results["message"])

	// flush-runners with flush-busy removes the busy runner too, cancelling
	// its job, and creates fresh runners.
	res = e.action(ctx, "flush-runners", map[string]any{"flush-busy": true})
	require.Equal(t, "2", res.Results["removed"])
	require.Contains(t, res.Results["removed-runners"], running.RunnerName)
	reconciled, ok := res.Results["reconcile"].(map[string]any)
	require.True(t, ok, "%v", res.Results)
	require.Equal(t, "2", reconciled["created"], "%v", res.Results)
	require.NotContains(t, e.runnerInstances(ctx), running.RunnerName)
	for _, r := range e.sim.Runs() {
		require.NotContains(t, r.Stdout+r.Stderr, adminToken)
	}
	for _, name := range e.instances(ctx) {
		require.True(t, strings.HasPrefix(name, e.prefix))
	}
}

// otherThan is the one name of two that is not name.
func otherThan(two []string, name string) string {
	for _, n := range two {
		if n != name {
			return n
		}
	}
	return ""
}
