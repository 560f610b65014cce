package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

// GitHub out of reach for longer than the bootstrap timeout while the
// runners are idle: their listeners retry until reconnected (as the real
// runner does) and the charm, which sees them offline but still listening,
// neither removes nor replaces them. When GitHub is back the same runners
// are online again. The outage is a minute and a bit, with a bootstrap
// timeout of one minute: the mechanism is the one a longer outage meets.
func TestOutageKeepsIdleRunners(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-outage", map[string]any{"virtual-machines": 2, "bootstrap-timeout": 1})
	ctx := testContext(t, 5*time.Minute)
	e.deploy(ctx)
	before := e.waitOnline(ctx, 2)
	ids := map[string]int64{}
	for _, r := range e.ghRunners() {
		ids[r.Name] = r.ID
	}
	start := time.Now()

	// The runner service is cut off: the listeners go offline.
	stopListeners := e.gh.InjectFault(githubtest.Fault{Path: "/_runner/*", Drop: true})
	require.NoError(t, e.gh.WaitFor(ctx, func() bool {
		for _, r := range e.ghRunners() {
			if r.Online() {
				return false
			}
		}
		return true
	}))
	// The whole API too, for a reconcile: a Waiting status, no error.
	stopAPI := e.gh.InjectFault(githubtest.Fault{Status: 503})
	res, err := e.sim.Dispatch(ctx, "reconcile-runners", nil)
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode)
	e.hook(ctx, "update-status")
	require.Equal(t, "waiting", e.sim.UnitStatus().Status)
	stopAPI()

	// Past the bootstrap timeout, the API answers again but the runners
	// are still offline: a reconcile must not take them for dead.
	require.NoError(t, e.gh.WaitFor(ctx, func() bool { return time.Since(start) > 70*time.Second }))
	res, err = e.sim.Dispatch(ctx, "reconcile-runners", nil)
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, "%s", e.logTail(20))
	require.ElementsMatch(t, before, names(e.ghRunners()), "no runner removed: %s", e.logTail(20))
	require.ElementsMatch(t, before, e.instances(ctx))

	stopListeners()
	after := e.waitOnline(ctx, 2)
	require.ElementsMatch(t, before, after, "the same runners are back online")
	for _, r := range e.ghRunners() {
		require.Equal(t, ids[r.Name], r.ID)
	}
	res, err = e.sim.Dispatch(ctx, "reconcile-runners", nil)
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode)
	require.ElementsMatch(t, before, names(e.ghRunners()), "none recreated")
}
