package lxd_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

func TestNotFound(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, 30*time.Second)
	missing := lxdtest.UniqueName("missing")

	_, err := c.GetInstance(ctx, missing)
	require.ErrorIs(t, err, lxd.ErrNotFound)
	var se *lxd.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 404, se.Code)
	require.ErrorContains(t, err, missing)

	_, err = c.DeleteInstance(ctx, missing)
	require.ErrorIs(t, err, lxd.ErrNotFound)
	require.NoError(t, c.RemoveInstance(ctx, missing), "removing a missing instance is done already")

	_, err = c.ExecInstance(ctx, missing, lxd.ExecArgs{Command: []string{"true"}})
	require.ErrorIs(t, err, lxd.ErrNotFound)
	require.ErrorIs(t, c.WaitInstanceReady(ctx, missing), lxd.ErrNotFound)
	require.ErrorIs(t, c.StartInstance(ctx, missing), lxd.ErrNotFound)

	_, err = c.GetImageAlias(ctx, missing)
	require.ErrorIs(t, err, lxd.ErrNotFound)
	_, err = c.GetImage(ctx, "0000000000000000000000000000000000000000000000000000000000000000")
	require.ErrorIs(t, err, lxd.ErrNotFound)
	_, _, err = c.GetProfile(ctx, missing)
	require.ErrorIs(t, err, lxd.ErrNotFound)
	_, _, err = c.GetStoragePool(ctx, missing)
	require.ErrorIs(t, err, lxd.ErrNotFound)

	// Creating from a missing image fails at once.
	req := newInstance(t, c, "noimage")
	req.Source = lxd.LocalImage(missing)
	_, err = c.CreateInstance(ctx, req)
	require.ErrorIs(t, err, lxd.ErrNotFound)
}

func TestNameConflict(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, time.Minute)
	req := newInstance(t, c, "conflict")
	require.NoError(t, c.LaunchInstance(ctx, req))

	// The raw operation fails, and is classified as a conflict.
	op, err := c.CreateInstance(ctx, req)
	require.NoError(t, err)
	err = op.Wait(ctx)
	require.ErrorIs(t, err, lxd.ErrConflict)
	var oe *lxd.OperationError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, lxd.StatusFailure, oe.StatusCode)

	// Launching over it fails the same way and leaves the first one alone.
	err = c.LaunchInstance(ctx, req)
	require.ErrorIs(t, err, lxd.ErrConflict)
	require.ErrorContains(t, err, req.Name)
	inst, err := c.GetInstance(ctx, req.Name)
	require.NoError(t, err)
	require.True(t, inst.Running())
}

func TestInstanceLifecycle(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, time.Minute)
	tag := lxdtest.UniqueName("tag")
	req := newInstance(t, c, "lifecycle")
	req.Config = map[string]string{
		"user.test-owner": tag,
		"user.test-role":  "runner",
		"limits.cpu":      "1",
		"limits.memory":   "128MiB",
	}
	req.Description = "lifecycle test"
	require.NoError(t, c.LaunchInstance(ctx, req))

	inst, err := c.GetInstance(ctx, req.Name)
	require.NoError(t, err)
	require.Equal(t, req.Name, inst.Name)
	require.Equal(t, lxd.InstanceTypeContainer, inst.Type)
	require.True(t, inst.Running())
	require.Equal(t, "Running", inst.Status)
	require.Equal(t, tag, inst.Config["user.test-owner"])
	require.Equal(t, "1", inst.ExpandedConfig["limits.cpu"])
	require.Equal(t, "lifecycle test", inst.Description)
	require.Equal(t, []string{"default"}, inst.Profiles, "nil profiles mean the default profile")
	require.NotNil(t, inst.State)
	require.Equal(t, lxd.StatusRunning, inst.State.StatusCode)
	require.Positive(t, inst.State.Pid)

	// Listing filters on the instance's own user keys, with state.
	list, err := c.GetInstances(ctx, lxd.InstanceFilter{Config: map[string]string{"user.test-owner": tag}})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, req.Name, list[0].Name)
	require.NotNil(t, list[0].State)
	require.Positive(t, list[0].State.Pid)

	list, err = c.GetInstances(ctx, lxd.InstanceFilter{Config: map[string]string{"user.test-owner": tag, "user.test-role": "other"}})
	require.NoError(t, err)
	require.Empty(t, list)
	list, err = c.GetInstances(ctx, lxd.InstanceFilter{Config: map[string]string{"user.test-owner": tag}, Type: lxd.InstanceTypeVM})
	require.NoError(t, err)
	require.Empty(t, list)

	// Start and stop wait, and are idempotent.
	require.NoError(t, c.StartInstance(ctx, req.Name), "starting a running instance")
	require.NoError(t, c.StopInstance(ctx, req.Name, lxd.StopOptions{Timeout: 10 * time.Second, Force: true}))
	inst, err = c.GetInstance(ctx, req.Name)
	require.NoError(t, err)
	require.Equal(t, lxd.StatusStopped, inst.StatusCode)
	require.NoError(t, c.StopInstance(ctx, req.Name, lxd.StopOptions{Force: true}), "stopping a stopped instance")
	require.NoError(t, c.StartInstance(ctx, req.Name))
	require.NoError(t, c.WaitInstanceReady(ctx, req.Name))

	// A clean shutdown (busybox init powers off on LXD's signal).
	stopStart := time.Now()
	require.NoError(t, c.StopInstance(ctx, req.Name, lxd.StopOptions{Timeout: 20 * time.Second}))
	t.Logf("clean shutdown took %s", time.Since(stopStart))
	require.NoError(t, c.StartInstance(ctx, req.Name))

	// Removing a running instance stops it first; a second removal is a no-op.
	require.NoError(t, c.RemoveInstance(ctx, req.Name))
	_, err = c.GetInstance(ctx, req.Name)
	require.ErrorIs(t, err, lxd.ErrNotFound)
	require.NoError(t, c.RemoveInstance(ctx, req.Name))
}

func TestInstanceWithProfilesAndDevices(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, time.Minute)
	profile := lxdtest.UniqueName("profile")
	require.NoError(t, c.CreateProfile(ctx, lxd.ProfilesPost{Name: profile, ProfilePut: lxd.ProfilePut{
		Config: map[string]string{"user.from-profile": "yes"},
	}}))
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := c.DeleteProfile(ctx, profile); err != nil && !errors.Is(err, lxd.ErrNotFound) {
			t.Errorf("cannot delete profile: %v", err)
		}
	})

	req := newInstance(t, c, "profiles")
	req.Profiles = []string{"default", profile}
	req.Devices = map[string]map[string]string{
		"scratch": {"type": "disk", "source": "/proc/version", "path": "/mnt/version", "readonly": "true"},
	}
	req.Config["user.from-instance"] = "yes"
	require.NoError(t, c.LaunchInstance(ctx, req))
	inst, err := c.GetInstance(ctx, req.Name)
	require.NoError(t, err)
	require.Equal(t, []string{"default", profile}, inst.Profiles)
	require.Equal(t, "yes", inst.ExpandedConfig["user.from-profile"])
	require.NotContains(t, inst.Config, "user.from-profile")
	require.Equal(t, "disk", inst.ExpandedDevices["scratch"]["type"])
	require.Equal(t, "/", inst.ExpandedDevices["root"]["path"], "the default profile's root disk")

	// Filtering looks at the instance's own config, not its profiles'.
	list, err := c.GetInstances(ctx, lxd.InstanceFilter{Config: map[string]string{"user.from-profile": "yes"}})
	require.NoError(t, err)
	for _, i := range list {
		require.NotEqual(t, req.Name, i.Name)
	}
	out := mustExec(t, c, req.Name, lxd.ExecArgs{Command: []string{"cat", "/mnt/version"}})
	require.Contains(t, out, "Linux")
}

func TestConcurrentInstances(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, 90*time.Second)
	tag := lxdtest.UniqueName("batch")
	const n = 10
	reqs := make([]lxd.InstancesPost, n)
	for i := range reqs {
		reqs[i] = newInstance(t, c, "batch")
		reqs[i].Config["user.test-batch"] = tag
	}

	start := time.Now()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() { errs[i] = c.LaunchInstance(ctx, req) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	t.Logf("%d instances launched concurrently in %s", n, time.Since(start))

	list, err := c.GetInstances(ctx, lxd.InstanceFilter{Config: map[string]string{"user.test-batch": tag}})
	require.NoError(t, err)
	require.Len(t, list, n)
	for _, inst := range list {
		require.True(t, inst.Running(), "%s is %s", inst.Name, inst.Status)
	}

	start = time.Now()
	for i, req := range reqs {
		wg.Go(func() { errs[i] = c.RemoveInstance(ctx, req.Name) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	t.Logf("%d instances removed concurrently in %s", n, time.Since(start))

	list, err = c.GetInstances(ctx, lxd.InstanceFilter{Config: map[string]string{"user.test-batch": tag}})
	require.NoError(t, err)
	require.Empty(t, list)
}
