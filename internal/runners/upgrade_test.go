package runners_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/runners"
)

// A unit upgraded from the names without the model keeps the runners it
// made before: they count towards the wanted number, nothing is created or
// removed for them, and a teardown still removes their instances. Another
// model's unit of the same application name removes none of them.
func TestUpgradeFromNamesWithoutModelKeepsRunners(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const model = "5f0c3a52-9d7e-4d1b-8a61-0c2b3d4e5f60"
	before, _ := f.manager("upgrade", "upgrade/0")
	_, err := before.Reconcile(f.ctx, 2, res)
	require.NoError(t, err)
	f.waitOnline(before, 2)
	legacy := f.instances(before)
	require.Len(t, legacy, 2)

	after, log := f.manager("upgrade", "upgrade/0", func(c *runners.Config) { c.Model = model })
	require.NotEqual(t, before.Owner().Prefix(), after.Owner().Prefix())
	other, otherLog := f.manager("upgrade", "upgrade/0", func(c *runners.Config) { c.Model = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d" })
	for range 2 {
		r, err := after.Reconcile(f.ctx, 2, res)
		require.NoError(t, err)
		require.Equal(t, 0, r.Delta, "the legacy runners count")
		require.Len(t, r.Runners, 2)
	}
	require.ElementsMatch(t, legacy, f.instances(before), "the legacy runners are kept")
	f.waitOnline(before, 2)
	for _, l := range log.Lines() {
		require.False(t, strings.HasPrefix(l, "Removed runner "), l)
	}

	// The other model's unit of the same name, on this same LXD, removes
	// none of them (legacy instance keys cannot tell the models apart).
	_, err = other.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	for _, l := range otherLog.Lines() {
		require.False(t, strings.HasPrefix(l, "Removed runner "), l)
	}
	require.ElementsMatch(t, legacy, f.instances(before))

	removed, err := after.RemoveInstances(f.ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, legacy, removed, "teardown removes the legacy instances")
}

// The runner image of a unit from before the model was in names, under
// its default alias of then, becomes the upgraded unit's: no rebuild.
func TestUpgradeAdoptsTheLegacyImageAlias(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	legacy, err := runners.NewOwner("adopt", "adopt/0")
	require.NoError(t, err)
	a, err := f.lxd.GetImageAlias(f.ctx, f.image)
	require.NoError(t, err)
	require.NoError(t, runners.LXDInstances{Client: f.lxd}.SetImageAlias(f.ctx, legacy.ImageAlias(), a.Target))
	m, _ := f.manager("adopt", "adopt/0", func(c *runners.Config) { c.Model = "5f0c3a52-9d7e-4d1b-8a61-0c2b3d4e5f60"; c.ImageAlias = "" })
	t.Cleanup(func() {
		_ = runners.LXDInstances{Client: f.lxd}.DeleteImageAlias(f.ctx, m.Image().Alias())
		_ = runners.LXDInstances{Client: f.lxd}.DeleteImageAlias(f.ctx, legacy.ImageAlias())
	})
	ok, err := m.Image().Exists(f.ctx)
	require.NoError(t, err)
	require.True(t, ok)
	moved, err := f.lxd.GetImageAlias(f.ctx, m.Image().Alias())
	require.NoError(t, err)
	require.Equal(t, a.Target, moved.Target)
	_, err = f.lxd.GetImageAlias(f.ctx, legacy.ImageAlias())
	require.Error(t, err, "the old alias is gone")
}
