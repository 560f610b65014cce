package lxdtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

// The Debian test image boots systemd in a container and has what a runner
// needs: the user ubuntu with passwordless sudo, bash, apt, and the actions
// runner's libraries.
func TestDebianImage(t *testing.T) {
	t.Parallel()
	c := lxdtest.Client(t)
	image := lxdtest.DebianImage(t, c)
	name := lxdtest.UniqueName("debian")
	lxdtest.RemoveInstanceLater(t, c, name)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	require.NoError(t, c.LaunchInstance(ctx, lxd.InstancesPost{
		Name:        name,
		Source:      lxd.LocalImage(image),
		InstancePut: lxd.InstancePut{Config: map[string]string{"limits.memory": "512MiB", "limits.cpu": "1"}},
	}))
	state := lxdtest.WaitBooted(t, ctx, c, name)
	require.Contains(t, []string{"running", "degraded"}, state)

	run := func(args lxd.ExecArgs) string {
		t.Helper()
		res, err := c.ExecInstance(ctx, name, args)
		require.NoError(t, err)
		require.Equal(t, 0, res.ExitCode, "%v: stdout %q stderr %q", args.Command, res.Stdout, res.Stderr)
		return strings.TrimSpace(string(res.Stdout))
	}
	root := func(cmd ...string) string { t.Helper(); return run(lxd.ExecArgs{Command: cmd}) }
	ubuntu := func(cmd ...string) string {
		t.Helper()
		return run(lxd.ExecArgs{Command: cmd, User: 1000, Group: 1000, Cwd: "/home/ubuntu",
			Environment: map[string]string{"HOME": "/home/ubuntu", "USER": "ubuntu"}})
	}

	require.Equal(t, "systemd", root("cat", "/proc/1/comm"))
	require.Equal(t, "ubuntu:x:1000:1000::/home/ubuntu:/bin/bash", root("getent", "passwd", "ubuntu"))
	require.Equal(t, "ubuntu adm sudo", root("id", "-nG", "ubuntu"))
	require.Equal(t, "0", ubuntu("sudo", "-n", "id", "-u"), "passwordless sudo")
	require.Equal(t, "ubuntu", ubuntu("bash", "-c", `echo "$(whoami)"`))
	require.Contains(t, root("apt-get", "--version"), "apt 2.")
	require.Equal(t, name, root("hostname"), "the hostname template")
	require.NotEmpty(t, root("cat", "/etc/machine-id"), "systemd gave the instance a machine id")

	libs := root("ldconfig", "-p")
	for _, lib := range []string{"libicuuc.so.72", "libssl.so.3", "libkrb5.so.3", "libz.so.1", "liblttng-ust.so.1"} {
		require.Contains(t, libs, lib+" ", "the actions runner needs %s", lib)
	}
	root("test", "-s", "/etc/ssl/certs/ca-certificates.crt")
}
