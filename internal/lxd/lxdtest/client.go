package lxdtest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"charm.example/github-runner/internal/lxd"
)

// Client returns an lxd.Client of the test daemon (see [Socket]: the test is
// skipped, or failed under CI, when the daemon is unreachable). The client's
// warnings go to the test's output.
func Client(t testing.TB) *lxd.Client {
	t.Helper()
	sock := Socket(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := lxd.Connect(ctx, lxd.Options{Socket: sock, Logger: logger})
	if err != nil {
		t.Fatalf("cannot connect to the test LXD at %s: %v", sock, err)
	}
	return c
}

// RemoveInstanceLater removes the instance (stopping it first) when the test
// ends, and reports a failure to do so as a test error. A missing instance is
// fine.
func RemoveInstanceLater(t testing.TB, c *lxd.Client, name string) {
	t.Helper()
	t.Cleanup(func() {
		// t.Context() has ended when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.RemoveInstance(ctx, name); err != nil {
			t.Errorf("cannot clean up instance %s: %v", name, err)
		}
	})
}

// BtrfsPool creates a btrfs storage pool of the test's own, on a sparse
// loop file (20GiB at most, taking only what is written) in the daemon's
// folder, and deletes it when the test ends. Create it before the instances
// that use it, so that their removal (cleanups run last in, first out) comes
// first. Instances go on it with the root disk [lxd.RootDisk](pool, "").
// A host without btrfs-progs ends the test (see [Unavailable]):
// scripts/lxd-up.sh installs it.
func BtrfsPool(t testing.TB, c *lxd.Client) string {
	t.Helper()
	if !haveProgram("mkfs.btrfs") {
		Unavailable(t, "mkfs.btrfs is missing: install btrfs-progs (`make lxd-up` does)")
	}
	name := UniqueName("btrfs")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := c.CreateStoragePool(ctx, lxd.StoragePoolsPost{
		Name:           name,
		Driver:         lxd.StorageDriverBtrfs,
		StoragePoolPut: lxd.StoragePoolPut{Config: map[string]string{"size": "20GiB"}, Description: "test pool of " + t.Name()},
	})
	if err != nil {
		t.Fatalf("cannot create a btrfs storage pool: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.DeleteStoragePool(ctx, name); err != nil && !errors.Is(err, lxd.ErrNotFound) {
			t.Errorf("cannot clean up storage pool %s: %v", name, err)
		}
	})
	return name
}

// DeleteStoragePool deletes a storage pool and the image volumes on it (the
// images themselves stay), reporting failures as test errors; a missing
// pool is fine. For cleanups of pools a test did not make itself.
func DeleteStoragePool(t testing.TB, c *lxd.Client, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, _, err := c.GetStoragePool(ctx, name)
	if errors.Is(err, lxd.ErrNotFound) {
		return
	}
	if err != nil {
		t.Errorf("cannot look up storage pool %s: %v", name, err)
		return
	}
	for _, u := range p.UsedBy {
		if fp, ok := strings.CutPrefix(u, "/1.0/images/"); ok {
			fp, _, _ = strings.Cut(fp, "?")
			if err := c.DeleteStorageVolume(ctx, name, "image", fp); err != nil && !errors.Is(err, lxd.ErrNotFound) {
				t.Errorf("cannot delete image volume %s of pool %s: %v", fp, name, err)
			}
		}
	}
	if err := c.DeleteStoragePool(ctx, name); err != nil && !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("cannot delete storage pool %s: %v", name, err)
	}
}

// ProxyProfile creates a profile of the test's own holding one device,
// "loopback-proxy", the [LoopbackProxy] for port: an instance with that
// profile (Profiles: []string{"default", name}) reaches a service on the
// host's 127.0.0.1:port at 127.0.0.1:port inside. The profile is deleted
// when the test ends; create it before the instances that use it, so that
// their removal comes first.
func ProxyProfile(t testing.TB, c *lxd.Client, port string) string {
	t.Helper()
	name := UniqueName("proxy-" + port)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := c.CreateProfile(ctx, lxd.ProfilesPost{Name: name, ProfilePut: lxd.ProfilePut{
		Description: "loopback proxy of " + t.Name(),
		Devices:     map[string]map[string]string{"loopback-proxy": LoopbackProxy(port)},
	}})
	if err != nil {
		t.Fatalf("cannot create a proxy profile: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.DeleteProfile(ctx, name); err != nil && !errors.Is(err, lxd.ErrNotFound) {
			t.Errorf("cannot clean up profile %s: %v", name, err)
		}
	})
	return name
}

// haveProgram reports whether a program is on PATH or in the system's sbin
// folders (which a non-login root shell may leave off PATH).
func haveProgram(name string) bool {
	if _, err := exec.LookPath(name); err == nil {
		return true
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}
