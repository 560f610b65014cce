package schedule

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func job(t *testing.T, backend Backend) Job {
	dir := t.TempDir()
	return Job{
		Name:        "github-runner-reconcile-github-runner-0",
		Unit:        "github-runner/0",
		Event:       "reconcile-runners",
		Interval:    10 * time.Minute,
		RandomDelay: 150 * time.Second,
		Timeout:     20 * time.Minute,
		Backend:     backend,
		SystemdDir:  filepath.Join(dir, "systemd"),
		CronDir:     filepath.Join(dir, "cron.d"),
		LockDir:     filepath.Join(dir, "lock"),
	}
}

func TestCronFile(t *testing.T) {
	j := job(t, Cron)
	changed, err := j.Install(context.Background())
	require.NoError(t, err)
	require.True(t, changed)
	require.True(t, j.Installed(context.Background()))
	b, err := os.ReadFile(filepath.Join(j.CronDir, j.Name))
	require.NoError(t, err)
	content := string(b)
	require.Contains(t, content, "*/10 * * * * root mkdir -p "+j.LockDir+" && flock -n "+filepath.Join(j.LockDir, j.Name+".lock"))
	require.Contains(t, content, "sleep $(shuf -i 0-150 -n 1); timeout 1200 juju-exec github-runner/0 'JUJU_DISPATCH_PATH=reconcile-runners ./dispatch'")
	require.NotContains(t, content, "%", "cron treats %% as a newline")
	fi, err := os.Stat(filepath.Join(j.CronDir, j.Name))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())

	changed, err = j.Install(context.Background())
	require.NoError(t, err)
	require.False(t, changed, "a second install changes nothing")

	j.Interval = 2 * time.Minute
	require.False(t, j.Installed(context.Background()), "a changed interval needs a rewrite")
	changed, err = j.Install(context.Background())
	require.NoError(t, err)
	require.True(t, changed)

	require.NoError(t, j.Remove(context.Background()))
	require.False(t, j.Installed(context.Background()))
	require.NoError(t, j.Remove(context.Background()), "removing twice is fine")
}

func TestCronSchedule(t *testing.T) {
	for interval, want := range map[time.Duration]string{
		2 * time.Minute: "*/2 * * * *", 45 * time.Minute: "*/45 * * * *",
		60 * time.Minute: "0 */1 * * *", 180 * time.Minute: "0 */3 * * *",
	} {
		require.Equal(t, want, Job{Interval: interval}.cronSchedule())
	}
}

// The cron command really runs here: its lock keeps a second run out while
// the first holds it, and the timeout bounds a run.
func TestCronCommandRuns(t *testing.T) {
	j := job(t, Cron)
	j.RandomDelay = 0
	j.Timeout = 2 * time.Second
	bin := t.TempDir()
	// juju-exec here records its argument and then sleeps past the timeout.
	marker := filepath.Join(t.TempDir(), "ran")
	script := "#!/bin/sh\necho \"$1|$2\" >> " + marker + "\nsleep 30\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "juju-exec"), []byte(script), 0o755))

	run := func() *exec.Cmd {
		cmd := exec.Command("sh", "-c", j.CronCommand())
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
		require.NoError(t, cmd.Start())
		return cmd
	}
	start := time.Now()
	first := run()
	require.Eventually(t, func() bool { _, err := os.Stat(marker); return err == nil }, 5*time.Second, 20*time.Millisecond)
	second := run()
	require.Error(t, second.Wait(), "an overlapping run must be refused by the lock")
	err := first.Wait()
	require.Error(t, err, "the run must be cut by the timeout")
	require.Less(t, time.Since(start), 20*time.Second)
	b, err := os.ReadFile(marker)
	require.NoError(t, err)
	require.Equal(t, "github-runner/0|JUJU_DISPATCH_PATH=reconcile-runners ./dispatch\n", string(b))
}

func TestSystemdUnits(t *testing.T) {
	j := job(t, Systemd)
	var calls []string
	j.Systemctl = func(_ context.Context, args ...string) error {
		calls = append(calls, strings.Join(args, " "))
		if args[0] == "is-active" {
			return os.ErrNotExist
		}
		return nil
	}
	changed, err := j.Install(context.Background())
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, []string{"daemon-reload", "enable --now " + j.Name + ".timer"}, calls)

	svc, err := os.ReadFile(filepath.Join(j.SystemdDir, j.Name+".service"))
	require.NoError(t, err)
	require.Contains(t, string(svc), "Type=oneshot")
	require.Contains(t, string(svc), `ExecStart=/bin/sh -c "juju-exec github-runner/0 'JUJU_DISPATCH_PATH=reconcile-runners ./dispatch'"`)
	require.Contains(t, string(svc), "TimeoutStartSec=1200")
	tmr, err := os.ReadFile(filepath.Join(j.SystemdDir, j.Name+".timer"))
	require.NoError(t, err)
	require.Contains(t, string(tmr), "OnUnitInactiveSec=600")
	require.Contains(t, string(tmr), "RandomizedDelaySec=150")
	require.Contains(t, string(tmr), "Unit="+j.Name+".service")

	// systemd's own checker accepts the units, where it is installed.
	if path, err := exec.LookPath("systemd-analyze"); err == nil {
		out, err := exec.Command(path, "verify", "--man=no", filepath.Join(j.SystemdDir, j.Name+".timer"), filepath.Join(j.SystemdDir, j.Name+".service")).CombinedOutput()
		require.NoError(t, err, string(out))
	}

	// Timer inactive (died): Installed is false and Install re-arms it.
	require.False(t, j.Installed(context.Background()))
	calls = nil
	_, err = j.Install(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"is-active --quiet " + j.Name + ".timer", "enable --now " + j.Name + ".timer"}, calls)

	calls = nil
	require.NoError(t, j.Remove(context.Background()))
	require.Equal(t, []string{"disable --now " + j.Name + ".timer", "daemon-reload"}, calls)
	_, err = os.Stat(filepath.Join(j.SystemdDir, j.Name+".timer"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestJobValidation(t *testing.T) {
	j := job(t, Cron)
	for _, mutate := range []func(*Job){
		func(j *Job) { j.Name = "a b" },
		func(j *Job) { j.Unit = "x'; rm -rf /" },
		func(j *Job) { j.Interval = time.Second },
		func(j *Job) { j.CronDir = "relative" },
		func(j *Job) { j.Backend = "at" },
	} {
		bad := j
		mutate(&bad)
		_, err := bad.Install(context.Background())
		require.Error(t, err)
	}
}
