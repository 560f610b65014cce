package lxd_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

func TestProfiles(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, 30*time.Second)
	name := lxdtest.UniqueName("profile")
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := c.DeleteProfile(ctx, name); err != nil && !errors.Is(err, lxd.ErrNotFound) {
			t.Errorf("cannot delete profile: %v", err)
		}
	})

	proxy := map[string]string{"type": "proxy", "listen": "tcp:127.0.0.1:18080", "connect": "tcp:127.0.0.1:18080", "bind": "instance"}
	require.NoError(t, c.CreateProfile(ctx, lxd.ProfilesPost{Name: name, ProfilePut: lxd.ProfilePut{
		Description: "test profile",
		Config:      map[string]string{"limits.cpu": "1"},
		Devices:     map[string]map[string]string{"github": proxy},
	}}))
	err := c.CreateProfile(ctx, lxd.ProfilesPost{Name: name})
	require.ErrorIs(t, err, lxd.ErrConflict)

	p, etag, err := c.GetProfile(ctx, name)
	require.NoError(t, err)
	require.NotEmpty(t, etag)
	require.Equal(t, name, p.Name)
	require.Equal(t, "test profile", p.Description)
	require.Equal(t, "1", p.Config["limits.cpu"])
	require.Equal(t, proxy, p.Devices["github"])

	require.NoError(t, c.DeleteProfile(ctx, name))
	require.ErrorIs(t, c.DeleteProfile(ctx, name), lxd.ErrNotFound)
}

func TestStoragePools(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, 30*time.Second)

	def, _, err := c.GetStoragePool(ctx, "default")
	require.NoError(t, err)
	require.Equal(t, "default", def.Name)
	require.NotEmpty(t, def.Driver)

	name := lxdtest.UniqueName("pool")
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := c.DeleteStoragePool(ctx, name); err != nil && !errors.Is(err, lxd.ErrNotFound) {
			t.Errorf("cannot delete storage pool: %v", err)
		}
	})
	require.NoError(t, c.CreateStoragePool(ctx, lxd.StoragePoolsPost{Name: name, Driver: "dir", StoragePoolPut: lxd.StoragePoolPut{Description: "test pool"}}))
	err = c.CreateStoragePool(ctx, lxd.StoragePoolsPost{Name: name, Driver: "dir"})
	require.ErrorIs(t, err, lxd.ErrConflict)

	p, _, err := c.GetStoragePool(ctx, name)
	require.NoError(t, err)
	require.Equal(t, "dir", p.Driver)
	require.Equal(t, "test pool", p.Description)
	require.Equal(t, "Created", p.Status)

	require.NoError(t, c.DeleteStoragePool(ctx, name))
	require.ErrorIs(t, c.DeleteStoragePool(ctx, name), lxd.ErrNotFound)
}
