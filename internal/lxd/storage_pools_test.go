package lxd_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

func TestRootDisk(t *testing.T) {
	t.Parallel()
	require.Equal(t, map[string]string{"type": "disk", "path": "/", "pool": "fast"}, lxd.RootDisk("fast", ""))
	require.Equal(t, map[string]string{"type": "disk", "path": "/", "pool": "fast", "size": "10GiB"}, lxd.RootDisk("fast", "10GiB"))
}

func TestEnsureStoragePool(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, time.Minute)
	name := lxdtest.UniqueName("ensure-pool")
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := c.DeleteStoragePool(ctx, name); err != nil && !errors.Is(err, lxd.ErrNotFound) {
			t.Errorf("cannot delete storage pool: %v", err)
		}
	})
	req := lxd.StoragePoolsPost{Name: name, Driver: lxd.StorageDriverDir, StoragePoolPut: lxd.StoragePoolPut{Description: "first"}}
	p, err := c.EnsureStoragePool(ctx, req)
	require.NoError(t, err)
	require.Equal(t, name, p.Name)
	require.Equal(t, "first", p.Description)

	// Again: the pool is there and left as it is.
	req.Description = "second"
	p, err = c.EnsureStoragePool(ctx, req)
	require.NoError(t, err)
	require.Equal(t, "first", p.Description)

	req.Driver = lxd.StorageDriverBtrfs
	_, err = c.EnsureStoragePool(ctx, req)
	require.ErrorIs(t, err, lxd.ErrConflict)
	require.ErrorContains(t, err, `driver "dir", not "btrfs"`)
}
