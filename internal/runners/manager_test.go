package runners_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/runners"
)

func TestReconcileScalesUpAndDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, log := f.manager("scale", "scale/0")

	for _, step := range []struct{ want, delta int }{{5, 5}, {2, -3}, {0, -2}} {
		r, err := m.Reconcile(f.ctx, step.want, res)
		require.NoError(t, err)
		require.Equal(t, step.delta, r.Delta, "reconcile to %d", step.want)
		require.Len(t, r.Runners, step.want, "the runners the reconcile left")
		require.Len(t, f.instances(m), step.want)
		require.Len(t, f.ghRunners(m), step.want)
		if step.want > 0 {
			f.waitOnline(m, step.want)
		}
	}
	// Every removal logged one line of one format.
	removed := 0
	for _, l := range log.Lines() {
		if strings.HasPrefix(l, "Removed runner ") {
			require.Contains(t, l, "reason=surplus")
			removed++
		}
	}
	require.Equal(t, 5, removed)
}

func TestRunnerRunsAsConfigured(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, _ := f.manager("shape", "shape/0")
	r, err := m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	require.Len(t, r.Created, 1)
	name := r.Created[0]
	f.waitOnline(m, 1)

	inst, err := f.lxd.GetInstance(f.ctx, name)
	require.NoError(t, err)
	require.True(t, inst.Ephemeral)
	require.Equal(t, "1", inst.Config["limits.cpu"])
	require.Equal(t, "256MiB", inst.Config["limits.memory"])
	require.Equal(t, "1GiB", inst.Devices["root"]["size"])
	require.Equal(t, "shape/0", inst.Config[runners.KeyUnit])
	require.NotEmpty(t, inst.Config[runners.KeyInstalledAt])
	require.NotEmpty(t, inst.Config[runners.KeyGitHubID])
	for k, v := range inst.Config {
		require.NotContains(t, v, "jit", "config key %s", k)
	}

	gh := f.ghRunners(m)
	require.Len(t, gh, 1)
	require.Contains(t, gh[0].Labels, "runners-test")
	require.True(t, gh[0].Ephemeral)

	// The runner runs as the unprivileged user and no process shows the
	// JIT config in its command line.
	out, err := f.lxd.ExecInstance(f.ctx, name, lxd.ExecArgs{Command: []string{"sh", "-c", "ps -o user,args"}})
	require.NoError(t, err)
	ps := string(out.Stdout)
	require.Contains(t, ps, "Runner.Listener")
	for _, line := range strings.Split(ps, "\n") {
		if strings.Contains(line, "Runner.Listener") && !strings.Contains(line, "ps -o") {
			require.True(t, strings.HasPrefix(strings.TrimSpace(line), "ubuntu") || strings.HasPrefix(strings.TrimSpace(line), "1000"), line)
		}
	}
	require.NotContains(t, ps, "jitconfig")
	// The root-only file that carried the JIT config in is gone.
	f.waitFor("the secrets file to go", func() bool {
		out, err := f.lxd.ExecInstance(f.ctx, name, lxd.ExecArgs{Command: []string{"test", "!", "-e", "/root/.github-runner.env"}})
		return err == nil && out.ExitCode == 0
	})

	info, err := m.Runners(f.ctx)
	require.NoError(t, err)
	require.Len(t, info, 1)
	require.True(t, info[0].Healthy)
	require.True(t, info[0].Online)
	require.Equal(t, runners.StateIdle, info[0].State)
}

func TestReconcileSweepsDeadRunnersAndGhosts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, log := f.manager("sweep", "sweep/0")
	_, err := m.Reconcile(f.ctx, 3, res)
	require.NoError(t, err)
	f.waitOnline(m, 3)
	names := f.instances(m)
	sort.Strings(names)

	// 1: the runner's processes killed.
	_, err = f.lxd.ExecInstance(f.ctx, names[0], lxd.ExecArgs{Command: []string{"sh", "-c", "kill -9 $(cat /var/lib/github-runner/runner.pid); pkill -9 -f Runner.Listener; true"}})
	require.NoError(t, err)
	// 2: the instance deleted behind the manager's back.
	require.NoError(t, f.lxd.RemoveInstance(f.ctx, names[1]))
	// 3: a GitHub-only ghost of this unit.
	ghost := m.Owner().NewName()
	_, err = f.gh.GenerateJITConfig(f.ctx, github.JITRequest{Name: ghost, Labels: []string{"x"}})
	require.NoError(t, err)
	// 4: an instance of this unit whose runner never registered.
	never := m.Owner().NewName()
	keys := m.Owner().Keys(runners.RoleRunner)
	keys[runners.KeyInstalledAt] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	require.NoError(t, f.lxd.LaunchInstance(f.ctx, lxd.InstancesPost{Name: never, Type: lxd.InstanceTypeContainer,
		Source: lxd.LocalImage(f.image), InstancePut: lxd.InstancePut{Config: keys, Ephemeral: true}}))
	// Foreign runners, on GitHub and in LXD, with names like ours.
	foreign, err := f.sim.AddRunner(org, githubtest.RunnerSeed{Name: "sweep-1-0123abcd", Online: true})
	require.NoError(t, err)
	other, _ := f.manager("sweep", "sweep/1")
	foreignGhost := other.Owner().NewName()
	_, err = f.gh.GenerateJITConfig(f.ctx, github.JITRequest{Name: foreignGhost, Labels: []string{"x"}})
	require.NoError(t, err)

	r, err := m.Reconcile(f.ctx, 3, res)
	require.NoError(t, err)
	var removed []string
	for _, rm := range r.Removed {
		removed = append(removed, rm.Name)
	}
	require.ElementsMatch(t, []string{names[0], names[1], ghost, never}, removed, "%+v", r.Removed)
	require.Len(t, r.Created, 2, "the two dead runners are replaced")
	require.Equal(t, 2, r.Delta, "one healthy runner left before, three after")
	require.Len(t, f.instances(m), 3)
	f.waitOnline(m, 3)
	require.Len(t, f.ghRunners(m), 3)

	_, ok := f.sim.Runner(foreign.ID)
	require.True(t, ok, "a foreign runner was removed")
	_, ok = f.sim.RunnerByName(org, foreignGhost)
	require.True(t, ok, "another unit's runner was removed")

	reasons := strings.Join(log.Lines(), "\n")
	require.Contains(t, reasons, "runner="+names[0]+" reason=dead: runner process not alive")
	require.Contains(t, reasons, "runner="+ghost+" reason=ghost: on GitHub without an instance")
}

func TestRunnerNeverOnlineIsReplaced(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The manager's clock, moved on by the test: a launch slowed by a busy
	// machine cannot eat the bootstrap timeout.
	var ahead atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	// Without the proxy profile the runner cannot reach GitHub.
	m, _ := f.manager("offline", "offline/0", func(c *runners.Config) {
		c.Profiles = nil
		c.BootstrapTimeout = time.Minute
		c.Now = clock
	})
	r, err := m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	first := r.Created[0]

	// Within the timeout it is starting, not dead.
	info, err := m.Runners(f.ctx)
	require.NoError(t, err)
	require.Equal(t, runners.StateStarting, info[0].State, "%+v", info[0])

	ahead.Store(int64(2 * time.Minute)) // past the bootstrap timeout
	r, err = m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	require.Equal(t, []runners.Removal{{Name: first, Reason: runners.Reason{Kind: runners.RemovalBootstrapTimeout, Timeout: time.Minute}}}, r.Removed)
	require.Equal(t, "dead: not online after 1m0s", r.Removed[0].Reason.String())
	require.Len(t, r.Created, 1)
	_, ok := f.sim.RunnerByName(org, first)
	require.False(t, ok, "the dead runner is de-registered")
}

func TestBusyRunnersAreKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, _ := f.manager("busy", "busy/0")
	_, err := m.Reconcile(f.ctx, 2, res)
	require.NoError(t, err)
	f.waitOnline(m, 2)

	job := f.sim.QueueJob([]string{"runners-test"}, time.Hour)
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	j, err := f.sim.WaitForJob(ctx, job, githubtest.JobInProgress)
	require.NoError(t, err)
	busyName := j.RunnerName

	// Idle flush leaves the busy one.
	r, err := m.Flush(f.ctx, runners.FlushIdle)
	require.NoError(t, err)
	require.Len(t, r.Removed, 1)
	require.NotEqual(t, busyName, r.Removed[0].Name)
	require.Equal(t, 1, r.Busy)
	require.Equal(t, []string{busyName}, f.instances(m))

	// Scale-down to 0 leaves it too.
	r, err = m.Reconcile(f.ctx, 0, res)
	require.NoError(t, err)
	require.Empty(t, r.Removed)
	require.Equal(t, 1, r.Busy)
	require.Equal(t, []string{busyName}, f.instances(m))

	// Busy flush removes it.
	r, err = m.Flush(f.ctx, runners.FlushBusy)
	require.NoError(t, err)
	require.Len(t, r.Removed, 1)
	require.Empty(t, f.instances(m))
}

func TestFinishedRunnerIsReplaced(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, _ := f.manager("replace", "replace/0")
	r, err := m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	first := r.Created[0]
	f.waitOnline(m, 1)

	job := f.sim.QueueJob([]string{"runners-test"}, 200*time.Millisecond)
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	_, err = f.sim.WaitForJob(ctx, job, githubtest.JobCompleted)
	require.NoError(t, err)
	// The runner exits after its job; the instance powers off and LXD
	// deletes it; GitHub de-registers the runner.
	f.waitFor("the finished runner's instance to go", func() bool { return len(f.instances(m)) == 0 })
	_, ok := f.sim.RunnerByName(org, first)
	require.False(t, ok)

	r, err = m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	require.Equal(t, 1, r.Delta)
	f.waitOnline(m, 1)
}

func TestUnitsAndApplicationsStayApart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a0, _ := f.manager("apart", "apart/0")
	a1, _ := f.manager("apart", "apart/1")
	b0, _ := f.manager("apart-0", "apart-0/0")
	all := []*runners.Manager{a0, a1, b0}
	for _, m := range all {
		_, err := m.Reconcile(f.ctx, 2, res)
		require.NoError(t, err)
	}
	for _, m := range all {
		f.waitOnline(m, 2)
	}
	// Each reconcile and busy flush of one touches none of the others.
	r, err := a0.Reconcile(f.ctx, 2, res)
	require.NoError(t, err)
	require.Empty(t, r.Removed)
	require.Empty(t, r.Created)
	r, err = a1.Flush(f.ctx, runners.FlushBusy)
	require.NoError(t, err)
	require.Len(t, r.Removed, 2)
	require.Len(t, f.instances(a0), 2)
	require.Len(t, f.instances(b0), 2)
	require.Len(t, f.ghRunners(a0), 2)
	require.Len(t, f.ghRunners(b0), 2)
	info, err := b0.Runners(f.ctx)
	require.NoError(t, err)
	require.Len(t, info, 2)
}

func TestGitHubFaultsDuringReconcile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, _ := f.manager("faults", "faults/0")
	_, err := m.Reconcile(f.ctx, 2, res)
	require.NoError(t, err)
	f.waitOnline(m, 2)
	job := f.sim.QueueJob([]string{"runners-test"}, time.Hour)
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	j, err := f.sim.WaitForJob(ctx, job, githubtest.JobInProgress)
	require.NoError(t, err)

	check := func(name string, fault githubtest.Fault, is error) {
		remove := f.sim.InjectFault(fault)
		_, err := m.Reconcile(f.ctx, 0, res)
		remove()
		require.Error(t, err, name)
		if is != nil {
			require.ErrorIs(t, err, is, name)
		}
		require.Contains(t, f.instances(m), j.RunnerName, "%s: the busy runner was removed", name)
	}
	check("listing 5xx", githubtest.Fault{Method: "GET", Path: "/orgs/{org}/actions/runners", Status: 502}, github.ErrServer)
	check("listing dropped", githubtest.Fault{Method: "GET", Path: "/orgs/{org}/actions/runners", Drop: true}, nil)

	// JIT creation failing for some runners: those are cleaned up, the
	// others start.
	remove := f.sim.InjectFault(githubtest.Fault{Method: "POST", Path: "/orgs/{org}/actions/runners/generate-jitconfig", Status: 500, Count: 2})
	r, err := m.Reconcile(f.ctx, 5, res)
	remove()
	require.Error(t, err)
	t.Logf("reconcile with JIT faults: %v", err)
	require.Len(t, r.Failures, 2)
	require.Len(t, r.Created, 1, "two runners were there, three wanted, two failed")
	require.Len(t, f.instances(m), 3, "no instance leaked for a failed creation")
	require.Len(t, f.ghRunners(m), 3, "no GitHub runner leaked for a failed creation")

	// The next reconcile converges.
	r, err = m.Reconcile(f.ctx, 5, res)
	require.NoError(t, err)
	require.Equal(t, 2, r.Delta)
	require.Len(t, f.instances(m), 5)

	// A secondary rate limit: the client backs off for retry-after, then
	// the reconcile goes through.
	check("secondary limit", githubtest.Fault{Path: "/orgs/{org}/actions/runners", SecondaryLimit: true, RetryAfter: time.Second, Count: 1}, github.ErrRateLimited)
	f.waitFor("the secondary limit to pass", func() bool {
		_, err := m.Reconcile(f.ctx, 5, res)
		return err == nil
	})
}

func TestPrimaryRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, _ := f.manager("ratelimit", "ratelimit/0")
	_, err := m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	f.sim.SetRateRemaining(token, 0)
	f.sim.SetRateReset(token, time.Now().Add(time.Hour))
	_, err = m.Reconcile(f.ctx, 1, res)
	require.Error(t, err)
	var rl *github.RateLimitError
	require.ErrorAs(t, err, &rl)
	require.WithinDuration(t, time.Now().Add(time.Hour), rl.Reset, 5*time.Second)
	require.Len(t, f.instances(m), 1, "no runner removed for a rate limit")
}

func TestSteadyStateUsesOnlyTheListing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, _ := f.manager("steady", "steady/0")
	// Foreign runners make the listing span pages.
	for i := 0; i < 150; i++ {
		_, err := f.sim.AddRunner(org, githubtest.RunnerSeed{Name: "foreign-" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + "-" + time.Now().Format("150405.000000000") + "-" + string(rune('a'+i/26))})
		require.NoError(t, err)
	}
	_, err := m.Reconcile(f.ctx, 3, res)
	require.NoError(t, err)
	f.waitOnline(m, 3)

	before := f.sim.Counts()
	r, err := m.Reconcile(f.ctx, 3, res)
	require.NoError(t, err)
	require.Zero(t, r.Delta)
	after := f.sim.Counts()
	diff := map[string]int{}
	for k, v := range after {
		if strings.Contains(k, " /_runner/") {
			continue // the runners' own traffic, not the manager's
		}
		if d := v - before[k]; d != 0 {
			diff[k] = d
		}
	}
	require.Equal(t, map[string]int{"GET /orgs/{org}/actions/runners": 2}, diff, "a steady reconcile lists runners (two pages) and nothing else")
}

func TestReconcilesDoNotOverlap(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	m, _ := f.manager("lock", "lock/0", func(c *runners.Config) { c.StateDir = dir })

	// A process holding the lock and then killed leaves it free.
	holder := exec.Command("flock", "--no-fork", filepath.Join(dir, "runners.lock"), "sleep", "60")
	require.NoError(t, holder.Start())
	f.waitFor("the holder to take the lock", func() bool {
		return exec.Command("flock", "-n", filepath.Join(dir, "runners.lock"), "true").Run() != nil
	})
	ctx, cancel := context.WithTimeout(f.ctx, 300*time.Millisecond)
	_, err := m.Reconcile(ctx, 0, res)
	cancel()
	require.ErrorIs(t, err, runners.ErrLocked)
	require.NoError(t, holder.Process.Kill())
	holder.Wait()
	_, err = m.Reconcile(f.ctx, 0, res)
	require.NoError(t, err)

	// Two at once: both succeed, one after the other, and the result is
	// exactly the wanted runners.
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := m.Reconcile(f.ctx, 2, res); errs <- err }()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	require.Len(t, f.instances(m), 2)
}

func TestImageBuildFailureKeepsOldImage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alias := f.image + "-copy"
	fp, err := f.lxd.GetImageAlias(f.ctx, f.image)
	require.NoError(t, err)
	require.NoError(t, f.lxd.SetImageAlias(f.ctx, alias, fp.Target))
	t.Cleanup(func() { f.lxd.DeleteImageAlias(context.Background(), alias) })

	m, _ := f.manager("imagefail", "imagefail/0", func(c *runners.Config) {
		c.ImageAlias = alias
		c.BaseImage = runners.ImageSource{Alias: f.image}
		c.ImagePackages = []string{"no-such-package"} // busybox has no apt-get
	})
	dl, err := m.RunnerApp().Latest(f.ctx, "linux")
	require.NoError(t, err)
	_, err = m.RunnerApp().Update(f.ctx, dl)
	require.NoError(t, err)
	err = m.Image().Build(f.ctx)
	require.ErrorContains(t, err, `image build step "packages" failed`)
	now, err := f.lxd.GetImageAlias(f.ctx, alias)
	require.NoError(t, err)
	require.Equal(t, fp.Target, now.Target, "the old image stays in service")
	list, err := f.lxd.GetInstances(f.ctx, lxd.InstanceFilter{Config: m.Owner().Keys(runners.RoleBuilder)})
	require.NoError(t, err)
	require.Empty(t, list, "the builder is deleted")
	// And it still serves runners.
	_, err = m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	f.waitOnline(m, 1)
	ok, err := m.Image().Exists(f.ctx)
	require.NoError(t, err)
	require.True(t, ok)
}

func TestImageBuildServesNewRunners(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, _ := f.manager("image", "image/0", func(c *runners.Config) {
		c.ImageAlias = ""
		c.BaseImage = runners.ImageSource{Alias: f.image}
	})
	ok, err := m.Image().Exists(f.ctx)
	require.NoError(t, err)
	require.False(t, ok)
	t.Cleanup(func() { cleanupImage(m.Image().Alias()) })
	dl, err := m.RunnerApp().Latest(f.ctx, "linux")
	require.NoError(t, err)
	_, err = m.RunnerApp().Update(f.ctx, dl)
	require.NoError(t, err)
	require.NoError(t, m.Image().Build(f.ctx))
	first, err := f.lxd.GetImageAlias(f.ctx, m.Image().Alias())
	require.NoError(t, err)
	_, err = m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	f.waitOnline(m, 1)

	// A rebuild moves the alias and deletes the old image.
	require.NoError(t, m.Image().Build(f.ctx))
	second, err := f.lxd.GetImageAlias(f.ctx, m.Image().Alias())
	require.NoError(t, err)
	require.NotEqual(t, first.Target, second.Target)
	_, err = f.lxd.GetImage(f.ctx, first.Target)
	require.ErrorIs(t, err, lxd.ErrNotFound)
}

func TestRunnerBinaryUpdate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	m, _ := f.manager("binary", "binary/0", func(c *runners.Config) { c.StateDir = dir })
	require.False(t, m.RunnerApp().Has())
	dl, err := m.RunnerApp().Latest(f.ctx, "linux")
	require.NoError(t, err)
	require.Contains(t, dl.Filename, "actions-runner-linux-")

	changed, err := m.RunnerApp().Update(f.ctx, dl)
	require.NoError(t, err)
	require.True(t, changed)
	require.True(t, m.RunnerApp().Has())
	changed, err = m.RunnerApp().Update(f.ctx, dl)
	require.NoError(t, err)
	require.False(t, changed, "no download when the current one is in place")

	bad := dl
	bad.Filename = strings.Replace(dl.Filename, "2.319.1", "2.999.0", 1)
	bad.SHA256 = strings.Repeat("0", 64)
	_, err = m.RunnerApp().Update(f.ctx, bad)
	require.ErrorIs(t, err, runners.ErrChecksumMismatch)
	v, err := m.RunnerApp().Version()
	require.NoError(t, err)
	require.Equal(t, "2.319.1", v, "the old binary is kept")

	_, err = m.RunnerApp().Update(f.ctx, github.Download{Filename: "../evil.tar.gz", SHA256: dl.SHA256, URL: dl.URL})
	require.Error(t, err)
	require.False(t, errors.Is(err, runners.ErrChecksumMismatch))

	// GitHub releases a newer runner: it is downloaded, verified, put in
	// place, and the older one removed.
	newer := githubtest.NewServer(githubtest.Options{
		Orgs: []string{org}, Tokens: map[string][]string{token: {githubtest.ScopeAdminOrg}}, RunnerVersion: "2.320.0",
	})
	t.Cleanup(newer.Close)
	gh2, err := github.New(github.Config{Path: org, Token: token, APIURL: newer.URL()})
	require.NoError(t, err)
	m2, _ := f.manager("binary", "binary/0", func(c *runners.Config) { c.GitHub = gh2; c.StateDir = dir })
	dl2, err := m2.RunnerApp().Latest(f.ctx, "linux")
	require.NoError(t, err)
	changed, err = m2.RunnerApp().Update(f.ctx, dl2)
	require.NoError(t, err)
	require.True(t, changed)
	v, err = m2.RunnerApp().Version()
	require.NoError(t, err)
	require.Equal(t, "2.320.0", v)
	left, err := filepath.Glob(filepath.Join(dir, "runner-binary", "actions-runner-*.tar.gz"))
	require.NoError(t, err)
	require.Len(t, left, 1, "the older tarball is removed: %v", left)
}

func TestWatcherReplacesFinishedRunnerAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, _ := f.manager("watch", "watch/0")
	_, err := m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	f.waitOnline(m, 1)

	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	triggered := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() {
		done <- runners.WatchRunnerExits(ctx, m.Owner(), runners.WatchOptions{
			Events:   runners.LXDInstances{Client: f.lxd},
			Debounce: 100 * time.Millisecond,
			Trigger: func(ctx context.Context) error {
				triggered <- struct{}{}
				_, err := m.Reconcile(ctx, 1, res)
				return err
			},
		})
	}()
	// Another unit's runner exiting does not trigger this one.
	other, _ := f.manager("watch", "watch/1")
	_, err = other.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	_, err = other.Flush(f.ctx, runners.FlushBusy)
	require.NoError(t, err)

	time.Sleep(300 * time.Millisecond) // let the subscription settle
	require.Empty(t, triggered, "another unit's runner exit triggered a reconcile")
	job := f.sim.QueueJob([]string{"runners-test"}, 100*time.Millisecond)
	jctx, jcancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer jcancel()
	j, err := f.sim.WaitForJob(jctx, job, githubtest.JobCompleted)
	require.NoError(t, err)
	select {
	case <-triggered:
	case <-jctx.Done():
		t.Fatal("no reconcile triggered by the runner's exit")
	}
	// The replacement comes without any timer.
	f.waitFor("a replacement runner online", func() bool {
		for _, r := range f.ghRunners(m) {
			if r.Name != j.RunnerName && r.Status == "online" {
				return true
			}
		}
		return false
	})
	cancel()
	require.NoError(t, <-done)
}

func TestBusyGhostIsNotAFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, _ := f.manager("busyghost", "busyghost/0")
	// A runner GitHub reports busy whose instance is gone.
	ghost := m.Owner().NewName()
	r, err := f.sim.AddRunner(org, githubtest.RunnerSeed{Name: ghost, Online: true})
	require.NoError(t, err)
	require.NoError(t, f.sim.SetRunnerBusy(r.ID, true))

	res1, err := m.Reconcile(f.ctx, 0, res)
	require.NoError(t, err)
	require.Equal(t, 1, res1.Busy)
	res2, err := m.Flush(f.ctx, runners.FlushBusy)
	require.NoError(t, err)
	require.Equal(t, 1, res2.Busy)
	_, ok := f.sim.Runner(r.ID)
	require.True(t, ok)

	// Once GitHub lets go, the sweep removes it.
	require.NoError(t, f.sim.SetRunnerBusy(r.ID, false))
	res3, err := m.Reconcile(f.ctx, 0, res)
	require.NoError(t, err)
	require.Equal(t, []runners.Removal{{Name: ghost, Reason: runners.Reason{Kind: runners.RemovalGhost}}}, res3.Removed)
	require.Equal(t, "ghost: on GitHub without an instance", res3.Removed[0].Reason.String())
}

func TestRegistrationTokenFallback(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, _ := f.manager("regtoken", "regtoken/0")
	// A GitHub without JIT configs (older Enterprise Server).
	remove := f.sim.InjectFault(githubtest.Fault{Method: "POST", Path: "/orgs/{org}/actions/runners/generate-jitconfig", Status: 404})
	defer remove()
	r, err := m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	require.Len(t, r.Created, 1)
	f.waitOnline(m, 1)
	require.Equal(t, 1, f.sim.Count("POST /orgs/{org}/actions/runners/registration-token"))
	gh := f.ghRunners(m)
	require.Equal(t, r.Created[0], gh[0].Name)
	require.Contains(t, gh[0].Labels, "runners-test")
	// The next reconcile keeps it: it is online.
	r, err = m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	require.Zero(t, r.Delta)
	require.Empty(t, r.Removed)
}
