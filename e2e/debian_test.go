package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
	"charm.example/github-runner/internal/proxytest"
)

// debianPackages are what the Debian test deploys with image-packages:
// two small packages jobs use, and wget, which the simulator's stand-in
// runner calls the service with (the real runner does not need it).
const debianPackages = "jq,git,wget"

// The charm on a realistic image, behind the model's proxy: the runner
// image is built from the Debian test image (systemd, apt) with
// image-packages installed by apt for real; the instances have no network
// but an LXD proxy device to a tinyproxy on the host's loopback, the
// model's juju-http-proxy, so apt succeeds only through it and its access
// log shows the requests. Runners run under systemd with the proxy in
// their environment, the runner's .env and Docker's configuration, take a
// job and are replaced; a package apt does not know blocks on
// image-packages. One image build (the slow part) serves every step.
func TestDebianImageBehindTheModelProxy(t *testing.T) {
	t.Parallel()
	client := lxdtest.Client(t)
	debian := lxdtest.DebianImage(t, client)
	px := proxytest.New(t)
	pxProfile := lxdtest.ProxyProfile(t, client, px.Port)
	const noProxy = "127.0.0.1,localhost"
	e := newEnvWith(t, envOptions{Prefix: "e2e-debian", Config: map[string]any{
		"base-image":     debian,
		"image-packages": debianPackages,
		"vm-memory":      "512MiB",
		"vm-disk":        "4GiB",
	}, Profiles: []string{pxProfile}, HTTPProxy: px.URL, HTTPSProxy: px.URL, NoProxy: noProxy})
	ctx := testContext(t, 12*time.Minute)

	start := time.Now()
	e.deploy(ctx)
	t.Logf("deploy (image build with apt through the proxy, first runner) took %s", time.Since(start).Round(time.Second))
	for _, l := range e.sim.Logs() {
		if strings.Contains(l.Message, "Image build step done") || strings.Contains(l.Message, "Runner image built") {
			t.Logf("%s", l.Message)
		}
	}
	first := e.waitOnline(ctx, 1)

	t.Run("apt went through the proxy", func(t *testing.T) {
		reqs, err := px.Requests()
		require.NoError(t, err)
		var lists, debs []string
		for _, r := range reqs {
			switch {
			case strings.Contains(r.URL, "/dists/bookworm/"):
				lists = append(lists, r.URL)
			case strings.HasSuffix(r.URL, ".deb"):
				debs = append(debs, r.URL)
			}
		}
		require.NotEmpty(t, lists, "apt-get update fetched the package lists through the proxy: %v", reqs)
		for _, pkg := range strings.Split(debianPackages, ",") {
			require.True(t, containsFunc(debs, func(u string) bool { return strings.Contains(u, "/"+pkg+"_") }),
				"the proxy's log shows %s's package: %v", pkg, debs)
		}
	})

	t.Run("the runner runs under systemd with the proxy", func(t *testing.T) {
		name := first[0]
		in, err := e.lxd.GetInstance(ctx, name)
		require.NoError(t, err)
		require.Equal(t, e.prefix+"pool", in.ExpandedDevices["root"]["pool"], "the runner is on the unit's own pool")
		pool, _, err := e.lxd.GetStoragePool(ctx, e.prefix+"pool")
		require.NoError(t, err)
		require.Equal(t, lxd.StorageDriverBtrfs, pool.Driver)

		require.Equal(t, "systemd", strings.TrimSpace(e.run(ctx, name, "cat", "/proc/1/comm")))
		require.Contains(t, []string{"running", "degraded"}, lxdtest.WaitBooted(t, ctx, e.lxd, name))
		e.run(ctx, name, "jq", "--version")
		e.run(ctx, name, "git", "--version")

		want := "http_proxy=" + px.URL + "\n"
		require.Contains(t, e.run(ctx, name, "cat", "/etc/environment"), want)
		require.Contains(t, e.run(ctx, name, "cat", "/etc/environment"), "no_proxy="+noProxy+"\n")
		env := e.run(ctx, name, "cat", "/opt/actions-runner/.env")
		require.Contains(t, env, want)
		require.Contains(t, env, "HTTPS_PROXY="+px.URL+"\n")
		require.Contains(t, e.run(ctx, name, "cat", "/etc/systemd/system/docker.service.d/http-proxy.conf"), `Environment="HTTP_PROXY=`+px.URL+`"`)
		require.Contains(t, e.run(ctx, name, "cat", "/home/ubuntu/.docker/config.json"), `"httpProxy": "`+px.URL+`"`)
		// A login shell of the runner user has the proxy.
		require.Contains(t, e.run(ctx, name, "su", "-", "ubuntu", "-c", "env"), want)

		// apt's background jobs are masked and apt waits for the dpkg lock.
		for _, unit := range []string{"apt-daily.timer", "apt-daily-upgrade.timer", "unattended-upgrades.service"} {
			res, err := e.lxd.ExecInstance(ctx, name, lxd.ExecArgs{Command: []string{"systemctl", "is-enabled", unit}})
			require.NoError(t, err)
			require.Equal(t, "masked", strings.TrimSpace(string(res.Stdout)), unit)
		}
		require.Contains(t, e.run(ctx, name, "apt-config", "dump", "DPkg::Lock::Timeout"), `DPkg::Lock::Timeout "300";`)
	})

	t.Run("a runner takes a job and is replaced", func(t *testing.T) {
		job := e.gh.QueueJob([]string{"self-hosted"}, time.Second)
		done, err := e.gh.WaitForJob(ctx, job, githubtest.JobCompleted)
		require.NoError(t, err)
		require.Equal(t, githubtest.ConclusionSuccess, done.Conclusion)
		require.Equal(t, first[0], done.RunnerName)
		require.NoError(t, e.gh.WaitFor(ctx, func() bool { return len(e.instances(ctx)) == 0 }), "the runner powered off and went")
		res, err := e.sim.Dispatch(ctx, "reconcile-runners", nil)
		require.NoError(t, err)
		require.Equal(t, 0, res.ExitCode, e.logTail(20))
		second := e.waitOnline(ctx, 1)
		require.NotEqual(t, first, second)
	})

	t.Run("a package apt does not know blocks on image-packages", func(t *testing.T) {
		image := e.imageFingerprint(ctx)
		_, err := e.sim.Configure(ctx, map[string]any{"image-packages": debianPackages + ",no-such-package-e2e"})
		require.NoError(t, err, e.logTail(30))
		st := e.sim.UnitStatus()
		require.Equal(t, "blocked", st.Status, e.logTail(30))
		require.Contains(t, st.Message, "image-packages")
		require.Contains(t, st.Message, `"no-such-package-e2e"`)
		require.Equal(t, image, e.imageFingerprint(ctx), "the old image stays in service")
	})
}

// run runs a command in an instance, requires that it succeed and returns
// its output.
func (e *env) run(ctx context.Context, name string, args ...string) string {
	e.t.Helper()
	res, err := e.lxd.ExecInstance(ctx, name, lxd.ExecArgs{Command: args})
	require.NoError(e.t, err, "%v", args)
	require.Equal(e.t, 0, res.ExitCode, "%v: %s", args, res.Stderr)
	return string(res.Stdout)
}

func containsFunc(ss []string, f func(string) bool) bool {
	for _, s := range ss {
		if f(s) {
			return true
		}
	}
	return false
}
