package schedule

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sleeper(t *testing.T, secs string) Daemon {
	path, err := exec.LookPath("sleep")
	require.NoError(t, err)
	return Daemon{
		Name:        "github-runner-watch-test",
		Description: "test daemon",
		Command:     []string{path, secs},
		Backend:     Detached,
		RunDir:      t.TempDir(),
	}
}

func pidOf(t *testing.T, d Daemon) int {
	b, err := os.ReadFile(d.PIDPath())
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(first)
	require.NoError(t, err)
	return pid
}

func TestDetachedDaemon(t *testing.T) {
	ctx := context.Background()
	d := sleeper(t, "300")
	t.Cleanup(func() { d.Remove(ctx) })
	require.False(t, d.Running(ctx))

	d.Env = []string{"GREETING=hello"}
	started, err := d.Install(ctx)
	require.NoError(t, err)
	require.True(t, started)
	require.True(t, d.Running(ctx))
	first := pidOf(t, d)
	// Only the environment it was given (and PATH).
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(first) + "/environ")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"},
		strings.Split(strings.TrimRight(string(environ), "\x00"), "\x00"))
	// Its own session: a hook ending does not take it along.
	sid, err := getsid(first)
	require.NoError(t, err)
	require.Equal(t, first, sid)

	started, err = d.Install(ctx)
	require.NoError(t, err)
	require.False(t, started, "a running daemon is left alone")
	require.Equal(t, first, pidOf(t, d))

	// Killed: not running, and installing again restarts it.
	require.NoError(t, syscall.Kill(first, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !d.Running(ctx) }, 5*time.Second, 20*time.Millisecond)
	started, err = d.Install(ctx)
	require.NoError(t, err)
	require.True(t, started)
	second := pidOf(t, d)
	require.NotEqual(t, first, second)

	// A changed command replaces the process.
	d2 := d
	d2.Command = []string{d.Command[0], "301"}
	started, err = d2.Install(ctx)
	require.NoError(t, err)
	require.True(t, started)
	require.NotEqual(t, second, pidOf(t, d2))
	require.False(t, d.Running(ctx), "the old command is not taken for the daemon")
	require.True(t, d2.Running(ctx))

	require.NoError(t, d2.Remove(ctx))
	require.False(t, d2.Running(ctx))
	_, err = os.Stat(d2.PIDPath())
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, d2.Remove(ctx), "removing twice is fine")
}

func TestDetachedDaemonStalePIDFile(t *testing.T) {
	ctx := context.Background()
	d := sleeper(t, "300")
	t.Cleanup(func() { d.Remove(ctx) })
	// A pid file naming some other live process (this test) is not the daemon.
	require.NoError(t, os.WriteFile(d.PIDPath(), []byte(strconv.Itoa(os.Getpid())), 0o644))
	require.False(t, d.Running(ctx))
	started, err := d.Install(ctx)
	require.NoError(t, err)
	require.True(t, started)
	require.NotEqual(t, os.Getpid(), pidOf(t, d))
}

func TestSystemdDaemonUnit(t *testing.T) {
	var calls []string
	d := Daemon{
		Name:        "github-runner-watch-app-0",
		Description: "Reconcile app/0 when a runner exits",
		Command:     []string{"/var/lib/juju/agents/unit-app-0/charm/dispatch", "watch-runners", "--unit", "app/0", "--trigger", "juju-exec app/0 'JUJU_DISPATCH_PATH=reconcile-runners ./dispatch'"},
		Backend:     Systemd,
		SystemdDir:  t.TempDir(),
		Systemctl: func(_ context.Context, args ...string) error {
			calls = append(calls, strings.Join(args, " "))
			if args[0] == "is-active" {
				return os.ErrNotExist
			}
			return nil
		},
	}
	started, err := d.Install(context.Background())
	require.NoError(t, err)
	require.True(t, started)
	require.Equal(t, []string{"daemon-reload", "enable " + d.Name + ".service", "restart " + d.Name + ".service"}, calls)
	unit, err := os.ReadFile(d.UnitPath())
	require.NoError(t, err)
	require.Contains(t, string(unit), `ExecStart="/var/lib/juju/agents/unit-app-0/charm/dispatch" "watch-runners" "--unit" "app/0" "--trigger" "juju-exec app/0 'JUJU_DISPATCH_PATH=reconcile-runners ./dispatch'"`)
	require.Contains(t, string(unit), "Restart=always")
	require.Contains(t, string(unit), `Environment="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"`)
	if path, err := exec.LookPath("systemd-analyze"); err == nil {
		// verify wants the program to exist: point a copy at a real one.
		v := d
		v.SystemdDir = t.TempDir()
		v.Command = append([]string{"/bin/sh"}, d.Command[1:]...)
		require.NoError(t, os.WriteFile(v.UnitPath(), []byte(v.Unit()), 0o644))
		out, err := exec.Command(path, "verify", "--man=no", v.UnitPath()).CombinedOutput()
		require.NoError(t, err, string(out))
	}

	calls = nil
	require.NoError(t, d.Remove(context.Background()))
	require.Equal(t, []string{"disable --now " + d.Name + ".service", "daemon-reload"}, calls)
	_, err = os.Stat(filepath.Join(d.SystemdDir, d.Name+".service"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestDaemonValidation(t *testing.T) {
	for _, d := range []Daemon{
		{Name: "x y", Command: []string{"/bin/true"}, Backend: Detached},
		{Name: "x", Command: []string{"true"}, Backend: Detached},
		{Name: "x", Command: nil, Backend: Detached},
		{Name: "x", Command: []string{"/bin/true"}, Backend: Systemd, SystemdDir: "rel"},
		{Name: "x", Command: []string{"/bin/true", "a\nb"}, Backend: Detached},
		{Name: "x", Command: []string{"/bin/true"}, Env: []string{"NOEQUALS"}, Backend: Detached},
	} {
		_, err := d.Install(context.Background())
		require.Error(t, err, "%+v", d)
	}
}

func getsid(pid int) (int, error) {
	sid, _, errno := syscall.RawSyscall(syscall.SYS_GETSID, uintptr(pid), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(sid), nil
}
