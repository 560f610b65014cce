package runners

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var lxdNameRe = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{0,62}$`)

func TestOwnerNames(t *testing.T) {
	o, err := NewOwner("github-runner", "github-runner/0")
	require.NoError(t, err)
	require.Equal(t, "github-runner-0-", o.Prefix())
	n := o.NewName()
	require.Regexp(t, `^github-runner-0-[0-9a-f]{8}$`, n)
	require.True(t, o.OwnsName(n))
	require.NotEqual(t, n, o.NewName())

	// App "a" unit 1 and app "a-1" unit 0 must not claim each other's runners.
	a1, err := NewOwner("a", "a/1")
	require.NoError(t, err)
	a10, err := NewOwner("a-1", "a-1/0")
	require.NoError(t, err)
	require.False(t, a1.OwnsName(a10.NewName()))
	require.False(t, a10.OwnsName(a1.NewName()))
	// Unit 1 and unit 10 are apart too.
	u10, err := NewOwner("a", "a/10")
	require.NoError(t, err)
	require.False(t, a1.OwnsName(u10.NewName()))
	require.False(t, u10.OwnsName(a1.NewName()))

	require.False(t, o.OwnsName("github-runner-0-ABCDEF12"))
	require.False(t, o.OwnsName("github-runner-0-abcdef1"))
	require.False(t, o.OwnsName("xgithub-runner-0-abcdef12"))
}

func TestOwnerLongApplicationName(t *testing.T) {
	for _, l := range []int{29, 30, 31, 50, 54, 55, 60, 100, 200} {
		app := "r" + strings.Repeat("x", l-2) + "z"
		unit := app + "/12345"
		o, err := NewOwner(app, unit)
		require.NoError(t, err, l)
		n := o.NewName()
		require.LessOrEqual(t, len(n), 63, n)
		require.Regexp(t, lxdNameRe, n)
		require.True(t, o.OwnsName(n))
		require.Regexp(t, lxdNameRe, o.builderName())
		require.False(t, o.OwnsName(o.builderName()))
	}
	// Two long names sharing a long common start stay apart.
	base := strings.Repeat("abc", 30)
	o1, err := NewOwner(base+"one", base+"one/0")
	require.NoError(t, err)
	o2, err := NewOwner(base+"two", base+"two/0")
	require.NoError(t, err)
	require.NotEqual(t, o1.Prefix(), o2.Prefix())
	require.False(t, o1.OwnsName(o2.NewName()))
}

func TestOwnerRejectsBadNames(t *testing.T) {
	for _, c := range [][2]string{
		{"", "x/0"}, {"Github", "Github/0"}, {"app", "other/0"}, {"app", "app"}, {"app", "app/x"}, {"1app", "1app/0"}, {"app-", "app-/0"},
	} {
		_, err := NewOwner(c[0], c[1])
		require.Error(t, err, "%v", c)
	}
}

func TestOwnsInstance(t *testing.T) {
	o, err := NewOwner("github-runner", "github-runner/0")
	require.NoError(t, err)
	other, err := NewOwner("github-runner", "github-runner/1")
	require.NoError(t, err)
	n := o.NewName()
	require.True(t, o.OwnsInstance(n, o.Keys(RoleRunner), RoleRunner))
	require.False(t, o.OwnsInstance(n, other.Keys(RoleRunner), RoleRunner), "keys of another unit")
	require.False(t, o.OwnsInstance(n, map[string]string{}, RoleRunner), "no keys")
	require.False(t, o.OwnsInstance("github-runner-0-zz", o.Keys(RoleRunner), RoleRunner), "bad name")
	require.True(t, o.OwnsInstance(o.builderName(), o.Keys(RoleBuilder), RoleBuilder))
}

// The model is part of names and keys: two models' units of one
// application name never own each other's runners, and an upgraded unit
// still recognises the names it gave before.
func TestOwnerInModel(t *testing.T) {
	a, err := NewOwnerInModel("github-runner", "github-runner/0", "7c2a3d3e-8f0b-4d4e-9b1a-6f5e4d3c2b1a")
	require.NoError(t, err)
	b, err := NewOwnerInModel("github-runner", "github-runner/0", "0b7b1a8e-2a8e-4f65-a0d1-3cf0bb3b0a11")
	require.NoError(t, err)
	legacy, err := NewOwner("github-runner", "github-runner/0")
	require.NoError(t, err)

	na, nb, nl := a.NewName(), b.NewName(), legacy.NewName()
	assert.Regexp(t, `^github-runner-0-[0-9a-f]{6}-[0-9a-f]{8}$`, na)
	assert.NotEqual(t, a.Prefix(), b.Prefix())
	assert.True(t, a.OwnsName(na))
	assert.False(t, a.OwnsName(nb), "another model's runner")
	assert.False(t, b.OwnsName(na), "another model's runner")
	assert.False(t, a.OwnsName(nl), "a legacy name alone is not this unit's")
	assert.True(t, a.OwnsLegacyName(nl))
	assert.False(t, a.OwnsLegacyName(nb))
	for _, n := range []string{na, nb, nl} {
		assert.True(t, a.OwnsUnitName(n), n)
		assert.True(t, strings.HasPrefix(n, a.ListPrefix()), n)
	}

	assert.True(t, a.OwnsInstance(na, a.Keys(RoleRunner), RoleRunner))
	assert.False(t, a.OwnsInstance(na, b.Keys(RoleRunner), RoleRunner), "keys of another model")
	assert.False(t, a.OwnsInstance(nl, legacy.Keys(RoleRunner), RoleRunner))
	assert.True(t, a.OwnsLegacyInstance(nl, legacy.Keys(RoleRunner), RoleRunner), "an instance of the unit before the upgrade")
	assert.False(t, a.OwnsLegacyInstance(nb, b.Keys(RoleRunner), RoleRunner))
	assert.False(t, legacy.OwnsLegacyInstance(nl, legacy.Keys(RoleRunner), RoleRunner), "outside a model nothing is legacy")

	long := strings.Repeat("a", 40) + "-" + strings.Repeat("b", 20)
	o, err := NewOwnerInModel(long, long+"/12", "7c2a3d3e-8f0b-4d4e-9b1a-6f5e4d3c2b1a")
	require.NoError(t, err)
	assert.LessOrEqual(t, len(o.builderName()), maxNameLen)
	assert.Regexp(t, `^[a-z][a-z0-9-]*$`, o.NewName())
}
