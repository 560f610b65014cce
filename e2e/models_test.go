package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd/lxdtest"
)

// Two deployments of one application name in two models (staging and
// production, say) register runners in one organisation. Reconciling side
// by side for several rounds, neither touches the other's runners, on
// GitHub or in LXD.
func TestTwoModelsSameAppName(t *testing.T) {
	t.Parallel()
	gh := newGitHub(t, nil)
	app := lxdtest.UniqueName("e2e-models") + "x"
	staging := newEnvWith(t, envOptions{GitHub: gh, App: app})
	production := newEnvWith(t, envOptions{GitHub: gh, App: app})
	require.NotEqual(t, staging.prefix, production.prefix)
	ctx := testContext(t, 5*time.Minute)

	staging.deploy(ctx)
	production.deploy(ctx)
	stagingRunners := staging.waitOnline(ctx, 1)
	productionRunners := production.waitOnline(ctx, 1)
	ids := map[string]int64{}
	for _, r := range gh.Runners(org) {
		ids[r.Name] = r.ID
	}
	require.Len(t, ids, 2)

	for round := range 3 {
		for _, e := range []*env{staging, production} {
			res, err := e.sim.Dispatch(ctx, "reconcile-runners", nil)
			require.NoError(t, err)
			require.Equal(t, 0, res.ExitCode, "round %d: %s", round, e.logTail(20))
		}
		require.Equal(t, stagingRunners, names(staging.ghRunners()), "round %d", round)
		require.Equal(t, productionRunners, names(production.ghRunners()), "round %d", round)
		require.Equal(t, stagingRunners, staging.instances(ctx))
		require.Equal(t, productionRunners, production.instances(ctx))
	}
	for _, r := range gh.Runners(org) {
		require.Equal(t, ids[r.Name], r.ID, "%s was never re-registered", r.Name)
	}
	require.Len(t, gh.Runners(org), 2)
	for _, e := range []*env{staging, production} {
		for _, l := range e.sim.Logs() {
			require.NotContains(t, l.Message, "Removed runner", "%s removed a runner", e.prefix)
		}
	}
}
