package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju/jujutest"
)

// A unit deploys to active with its runners online, reports them, keeps
// its periodic jobs, and leaves nothing behind when removed.
func TestDeployToActiveAndRemove(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-deploy", map[string]any{"virtual-machines": 3})
	ctx := testContext(t, 4*time.Minute)

	snap := e.deploy(ctx)
	require.Equal(t, "active", snap.UnitStatus.Status, snap.UnitStatus.Message)
	online := e.waitOnline(ctx, 3)
	require.Len(t, e.runnerInstances(ctx), 3)

	e.hook(ctx, "update-status")
	require.Equal(t, jujutest.Status{Status: "active", Message: "3/3 runners online"}, e.sim.UnitStatus())

	res := e.action(ctx, "check-runners", nil)
	require.Equal(t, "3", res.Results["online"])
	require.Equal(t, "3", res.Results["idle"])
	require.Equal(t, "0", res.Results["busy"])
	require.Equal(t, "0", res.Results["offline"])
	require.Equal(t, strings.Join(online, ","), res.Results["runners"])

	// The reconcile timer and the image rebuild cron entry are in place,
	// each dispatching through juju-exec.
	timer := e.cronLine(filepath.Join(e.cronDir, "github-runner-reconcile-"+strings.ReplaceAll(e.unit, "/", "-")))
	require.Contains(t, timer, "juju-exec "+e.unit+" 'JUJU_DISPATCH_PATH=reconcile-runners ./dispatch'")
	require.Contains(t, timer, "flock -n")
	// update-status re-arms a timer that went missing.
	timerFile := filepath.Join(e.cronDir, "github-runner-reconcile-"+strings.ReplaceAll(e.unit, "/", "-"))
	require.NoError(t, os.Remove(timerFile))
	e.hook(ctx, "update-status")
	require.Equal(t, timer, e.cronLine(timerFile))

	entries, err := os.ReadDir(e.cronDir)
	require.NoError(t, err)
	var image string
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), "github-runner-image-") {
			image = e.cronLine(filepath.Join(e.cronDir, en.Name()))
		}
	}
	require.Contains(t, image, "juju-exec "+e.unit+" 'JUJU_DISPATCH_PATH=build-runner-image ./dispatch'")

	// The workload version is the runner application's.
	require.Equal(t, "2.319.1", e.sim.WorkloadVersion())

	// The token reaches no log line, status or action output.
	for _, l := range e.sim.Logs() {
		require.NotContains(t, l.Message, adminToken)
	}
	for _, h := range e.sim.StatusHistory() {
		require.NotContains(t, h.Message, adminToken)
	}
	for _, r := range e.sim.Runs() {
		require.NotContains(t, r.Stdout+r.Stderr, adminToken)
	}

	require.NoError(t, e.sim.Remove(ctx))
	e.requireGone(ctx)
	entries, err = os.ReadDir(e.cronDir)
	require.NoError(t, err)
	require.Empty(t, entries, "the periodic jobs are removed")
}
