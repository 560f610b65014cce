package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/juju/jujutest"
	"charm.example/github-runner/internal/pool"
)

// A new token flushes the runners registered with the old one, using the
// old one (which the unit kept), busy runners included, and then registers
// new runners with the new token.
func TestTokenChangeFlushesWithTheOldToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-token", map[string]any{"virtual-machines": 2})
	ctx := testContext(t, 4*time.Minute)
	e.deploy(ctx)
	old := e.waitOnline(ctx, 2)

	// One runner is busy: it goes too.
	job := e.gh.QueueJob([]string{"self-hosted"}, 5*time.Minute)
	_, err := e.gh.WaitForJob(ctx, job, githubtest.JobInProgress)
	require.NoError(t, err)

	oldUsed := e.gh.RateLimit(adminToken).Used
	newUsed := e.gh.RateLimit(otherToken).Used
	_, err = e.sim.Configure(ctx, map[string]any{"token": otherToken})
	require.NoError(t, err, e.logTail(30))

	require.Greater(t, e.gh.RateLimit(adminToken).Used, oldUsed, "the old token flushed the old runners")
	require.Greater(t, e.gh.RateLimit(otherToken).Used, newUsed, "the new token registered the new runners")
	running, _ := e.gh.Job(job)
	for _, name := range old {
		if name == running.RunnerName {
			continue // GitHub holds on to it until it sees the job died
		}
		_, ok := e.gh.RunnerByName(org, name)
		require.False(t, ok, "old idle runner %s de-registered", name)
	}
	// Only the new runners' instances are left: the busy one was killed.
	require.NoError(t, e.gh.WaitFor(ctx, func() bool {
		live := e.runnerInstances(ctx)
		for _, name := range old {
			for _, l := range live {
				if l == name {
					return false
				}
			}
		}
		return len(live) == 2
	}))
	// GitHub fails the killed runner's job once its listener is silent;
	// the next reconcile de-registers what is left of it.
	_, err = e.gh.WaitForJob(ctx, job, githubtest.JobCompleted)
	require.NoError(t, err)
	res, err := e.sim.Dispatch(ctx, "reconcile-runners", nil)
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, e.logTail(20))
	fresh := e.waitOnline(ctx, 2)
	for _, name := range fresh {
		require.NotContains(t, old, name)
	}
	require.Equal(t, fresh, e.runnerInstances(ctx))

	// The token change survives in the state for the next change, and no
	// log line shows either token.
	for _, l := range e.sim.Logs() {
		require.NotContains(t, l.Message, adminToken)
		require.NotContains(t, l.Message, otherToken)
	}

	// Back to the first token: the same again, the other way round.
	usedBefore := e.gh.RateLimit(otherToken).Used
	_, err = e.sim.Configure(ctx, map[string]any{"token": adminToken})
	require.NoError(t, err)
	require.Greater(t, e.gh.RateLimit(otherToken).Used, usedBefore)
	again := e.waitOnline(ctx, 2)
	for _, name := range again {
		require.NotContains(t, fresh, name)
	}
}

// The token may be a Juju secret; rotating the secret's content is a token
// change.
func TestSecretTokenRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-secret", nil)
	ctx := testContext(t, 4*time.Minute)
	uri := e.sim.AddSecret(map[string]string{"token": adminToken}, jujutest.SecretOptions{Granted: true})
	require.NoError(t, e.sim.SetConfig(map[string]any{"token": uri}))
	e.deploy(ctx)
	old := e.waitOnline(ctx, 1)

	require.NoError(t, e.sim.UpdateSecret(uri, map[string]string{"token": otherToken}))
	oldUsed := e.gh.RateLimit(adminToken).Used
	e.hook(ctx, "config-changed")
	require.Greater(t, e.gh.RateLimit(adminToken).Used, oldUsed)
	fresh := e.waitOnline(ctx, 1)
	require.NotEqual(t, old, fresh)
}

// The reconcile timer's cron line, run verbatim as cron would, dispatches a
// reconcile through juju-exec that replaces a runner that took its one job.
func TestTimerReplacesAFinishedRunner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-timer", nil)
	ctx := testContext(t, 4*time.Minute)
	e.deploy(ctx)
	first := e.waitOnline(ctx, 1)

	job := e.gh.QueueJob([]string{"self-hosted"}, time.Second)
	done, err := e.gh.WaitForJob(ctx, job, githubtest.JobCompleted)
	require.NoError(t, err)
	// The stand-in's job steps write under $HOME, check $USER and run a
	// command from PATH: the runner has its user's login environment.
	require.Equal(t, githubtest.ConclusionSuccess, done.Conclusion, "job failure: %s", done.Failure)
	require.Equal(t, first[0], done.RunnerName)
	// The ephemeral runner is de-registered and its instance powers off
	// and deletes itself.
	require.NoError(t, e.gh.WaitFor(ctx, func() bool { return len(e.ghRunners()) == 0 }))
	require.NoError(t, e.gh.WaitFor(ctx, func() bool { return len(e.instances(ctx)) == 0 }))

	line := e.cronLine(e.cronDir + "/github-runner-reconcile-" + strings.ReplaceAll(e.unit, "/", "-"))
	res, err := e.sim.Shell(ctx, line)
	require.NoError(t, err)
	require.Equal(t, 0, res.Code, "stdout %s\nstderr %s\n%s", res.Stdout, res.Stderr, e.logTail(30))

	second := e.waitOnline(ctx, 1)
	require.NotEqual(t, first, second, "a fresh runner replaced the finished one")
	var dispatched bool
	for _, r := range e.sim.Runs() {
		dispatched = dispatched || (r.Kind == jujutest.KindExec && strings.Contains(r.Name, "JUJU_DISPATCH_PATH=reconcile-runners"))
	}
	require.True(t, dispatched, "the timer went through juju-exec")
}

// upgrade-charm replaces the idle runners but never rebuilds an existing
// image; the config-changed that follows does not either.
func TestUpgradeKeepsTheImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-upgrade", nil)
	ctx := testContext(t, 4*time.Minute)
	e.deploy(ctx)
	before := e.waitOnline(ctx, 1)
	image := e.imageFingerprint(ctx)

	require.NoError(t, e.sim.Upgrade(ctx), e.logTail(30))
	require.Equal(t, image, e.imageFingerprint(ctx), "the image was not rebuilt")
	after := e.waitOnline(ctx, 1)
	require.NotEqual(t, before, after, "the idle runner was replaced")
	require.Equal(t, "active", e.sim.UnitStatus().Status)

	// A change of image settings does rebuild it, and replaces the idle
	// runner so that it runs the new image.
	_, err := e.sim.Configure(ctx, map[string]any{"dockerhub-mirror": "https://mirror.example.com"})
	require.NoError(t, err, e.logTail(30))
	require.NotEqual(t, image, e.imageFingerprint(ctx), "the image was rebuilt")
	require.NotEqual(t, after, e.waitOnline(ctx, 1))
}

// A changed number of runners, labels or resources is applied at once.
func TestScaleAndRelabel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-scale", nil)
	ctx := testContext(t, 4*time.Minute)
	e.deploy(ctx)
	one := e.waitOnline(ctx, 1)

	_, err := e.sim.Configure(ctx, map[string]any{"virtual-machines": 3})
	require.NoError(t, err)
	three := e.waitOnline(ctx, 3)
	require.Subset(t, three, one, "the existing runner stays")

	_, err = e.sim.Configure(ctx, map[string]any{"labels": "large"})
	require.NoError(t, err)
	relabelled := e.waitOnline(ctx, 3)
	for _, r := range e.ghRunners() {
		require.Contains(t, r.Labels, "large")
		require.NotContains(t, three, r.Name, "idle runners with the old labels were replaced")
	}

	_, err = e.sim.Configure(ctx, map[string]any{"virtual-machines": 1, "vm-memory": "128MiB"})
	require.NoError(t, err)
	last := e.waitOnline(ctx, 1)
	require.NotContains(t, relabelled, last[0], "a resource change replaced the idle runners")
	require.Len(t, e.runnerInstances(ctx), 1)

	_, err = e.sim.Configure(ctx, map[string]any{"virtual-machines": 0})
	require.NoError(t, err)
	require.NoError(t, e.gh.WaitFor(ctx, func() bool { return len(e.ghRunners()) == 0 }))
	require.Equal(t, jujutest.Status{Status: "active", Message: "no runners (virtual-machines is 0)"}, e.sim.UnitStatus())
}

// With reconcile-on-exit the charm keeps a watcher process that replaces a
// runner as soon as it has taken its one job, without the timer; removing
// the unit stops it.
func TestExitWatcherReplacesAtOnce(t *testing.T) {
	t.Parallel()
	var pid string
	t.Cleanup(func() {
		// Runs after the unit's removal (cleanups run last first).
		if pid != "" && processAlive(pid) {
			t.Errorf("the watcher (pid %s) outlived the unit", pid)
		}
	})
	e := newEnv(t, "e2e-watch", map[string]any{"reconcile-on-exit": true})
	ctx := testContext(t, 4*time.Minute)
	e.deploy(ctx)
	first := e.waitOnline(ctx, 1)

	// The watcher runs detached (no systemd here), with no secret in its
	// command line or environment.
	pidFile := filepath.Join(filepath.Dir(e.sim.CharmDir()), pool.StateDirName, "github-runner-watch-"+strings.ReplaceAll(e.unit, "/", "-")+".pid")
	data, err := os.ReadFile(pidFile)
	require.NoError(t, err, "no watcher pid file")
	pid, _, _ = strings.Cut(string(data), "\n")
	for _, f := range []string{"cmdline", "environ"} {
		b, err := os.ReadFile("/proc/" + pid + "/" + f)
		require.NoError(t, err, "the watcher is not running")
		require.NotContains(t, string(b), adminToken)
		if f == "cmdline" {
			require.Contains(t, string(b), "watch\x00--unit\x00"+e.unit)
		}
	}

	job := e.gh.QueueJob([]string{"self-hosted"}, time.Second)
	_, err = e.gh.WaitForJob(ctx, job, githubtest.JobCompleted)
	require.NoError(t, err)
	// No timer runs here: the replacement comes from the watcher.
	require.NoError(t, e.gh.WaitFor(ctx, func() bool {
		rs := e.ghRunners()
		return len(rs) == 1 && rs[0].Name != first[0] && rs[0].Status == "online"
	}), "no replacement without the timer\n%s", e.logTail(30))
	// The run is recorded when the juju-exec ends.
	require.Eventually(t, func() bool {
		for _, r := range e.sim.Runs() {
			if r.Kind == jujutest.KindExec && strings.Contains(r.Name, "JUJU_DISPATCH_PATH=reconcile-runners") {
				return true
			}
		}
		return false
	}, time.Minute, 100*time.Millisecond, "the watcher went through juju-exec")
}

// processAlive says whether a process runs (a zombie does not).
func processAlive(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
