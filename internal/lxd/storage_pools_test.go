package lxd_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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

// A btrfs pool on a loop file holds instances of the Debian image, each a
// snapshot of the image's volume, and goes away with its image volume.
func TestLaunchOnBtrfsPool(t *testing.T) {
	t.Parallel()
	c := connect(t)
	image := lxdtest.DebianImage(t, c)
	pool := lxdtest.BtrfsPool(t, c)
	ctx := testCtx(t, 5*time.Minute)

	p, _, err := c.GetStoragePool(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, lxd.StorageDriverBtrfs, p.Driver)
	require.Equal(t, "20GiB", p.Config["size"])
	require.True(t, strings.HasSuffix(p.Config["source"], ".img"), "a loop file: %q", p.Config["source"])

	name := lxdtest.UniqueName("on-btrfs")
	lxdtest.RemoveInstanceLater(t, c, name)
	start := time.Now()
	require.NoError(t, c.LaunchInstance(ctx, lxd.InstancesPost{
		Name:   name,
		Source: lxd.LocalImage(image),
		InstancePut: lxd.InstancePut{
			Config:  map[string]string{"limits.memory": "512MiB"},
			Devices: map[string]map[string]string{"root": lxd.RootDisk(pool, "")},
		},
	}))
	t.Logf("launched on a fresh btrfs pool in %s", time.Since(start).Round(time.Millisecond))
	inst, err := c.GetInstance(ctx, name)
	require.NoError(t, err)
	require.Equal(t, pool, inst.ExpandedDevices["root"]["pool"], "the instance's root disk overrides the profile's")
	lxdtest.WaitBooted(t, ctx, c, name)
	res, err := c.ExecInstance(ctx, name, lxd.ExecArgs{Command: []string{"stat", "-f", "-c", "%T", "/"}})
	require.NoError(t, err)
	require.Equal(t, "btrfs", strings.TrimSpace(string(res.Stdout)))

	p, _, err = c.GetStoragePool(ctx, pool)
	require.NoError(t, err)
	require.Contains(t, p.UsedBy, "/1.0/instances/"+name)

	// A pool in use cannot go; emptied of instances it can, image volume
	// and all.
	require.Error(t, c.DeleteStoragePool(ctx, pool))
	require.NoError(t, c.RemoveInstance(ctx, name))
	require.NoError(t, c.DeleteStoragePool(ctx, pool))
	_, _, err = c.GetStoragePool(ctx, pool)
	require.ErrorIs(t, err, lxd.ErrNotFound)
}

// BenchmarkLaunch10 launches 10 instances of the Debian image at once on
// the default (dir) pool and on a btrfs pool, and reports the seconds each
// round took. Not part of `make test`; run it with
//
//	go test -run '^$' -bench Launch10 -benchtime 1x ./internal/lxd
//
// Each pool first launches one instance unmeasured (btrfs unpacks the image
// into the pool once; dir unpacks it for every instance).
func BenchmarkLaunch10(b *testing.B) {
	c := lxdtest.Client(b)
	image := lxdtest.DebianImage(b, c)
	for _, driver := range []string{lxd.StorageDriverDir, lxd.StorageDriverBtrfs} {
		b.Run(driver, func(b *testing.B) {
			pool := "default"
			if driver == lxd.StorageDriverBtrfs {
				pool = lxdtest.BtrfsPool(b, c)
			}
			ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
			defer cancel()
			launch := func(name string) error {
				return c.LaunchInstance(ctx, lxd.InstancesPost{
					Name:   name,
					Source: lxd.LocalImage(image),
					InstancePut: lxd.InstancePut{
						Config:  map[string]string{"limits.memory": "512MiB"},
						Devices: map[string]map[string]string{"root": lxd.RootDisk(pool, "")},
					},
				})
			}
			warm := lxdtest.UniqueName("bench-" + driver)
			lxdtest.RemoveInstanceLater(b, c, warm)
			require.NoError(b, launch(warm))
			require.NoError(b, c.RemoveInstance(ctx, warm))

			var total time.Duration
			b.ResetTimer()
			for i := range b.N {
				names := make([]string, 10)
				for j := range names {
					names[j] = lxdtest.UniqueName(fmt.Sprintf("bench-%s-%d-%d", driver, i, j))
					lxdtest.RemoveInstanceLater(b, c, names[j])
				}
				start := time.Now()
				errs := make([]error, len(names))
				var wg sync.WaitGroup
				for j, name := range names {
					wg.Go(func() { errs[j] = launch(name) })
				}
				wg.Wait()
				total += time.Since(start)
				require.NoError(b, errors.Join(errs...))

				b.StopTimer()
				for j, name := range names {
					wg.Go(func() { errs[j] = c.RemoveInstance(ctx, name) })
				}
				wg.Wait()
				require.NoError(b, errors.Join(errs...))
				b.StartTimer()
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s/10-launches")
		})
	}
}
