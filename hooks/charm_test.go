package hooks_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/hooks"
	"charm.example/github-runner/internal/juju/jujutest"
	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/schedule"
)

// The charm's handlers up to the point where they need LXD and GitHub; the
// rest is tested end to end in e2e.
func TestCharmHandlers(t *testing.T) {
	const plainToken = "ghp_plaintokenvalue0123456789"
	const noSocket = "/nonexistent/lxd/unix.socket"
	noLXD := `lxd-socket "` + noSocket + `": no LXD socket there (is LXD running?)`
	valid := map[string]any{"path": "acme/website", "token": plainToken, "lxd-socket": noSocket}
	h := hooks.New(hooks.Deps{TimerBackend: schedule.Cron}).Handlers()

	t.Run("defaults block on path and token", func(t *testing.T) {
		s := startSim(t, jujutest.Options{})
		for _, hook := range []string{"install", "config-changed", "start", "update-status", "upgrade-charm"} {
			code, _ := dispatchIn(t, s, "hooks/"+hook, nil, h)
			require.Equal(t, 0, code, hook)
			require.Equal(t, jujutest.Status{Status: "blocked", Message: "path: missing: set an organisation or owner/repo; token: missing: set a GitHub token, or a secret: URI granted to the application"}, s.UnitStatus(), hook)
		}
	})
	t.Run("an lxd-socket that is not one blocks naming it", func(t *testing.T) {
		s := startSim(t, jujutest.Options{Config: valid})
		for _, hook := range []string{"install", "config-changed", "start", "update-status"} {
			code, _ := dispatchIn(t, s, "hooks/"+hook, nil, h)
			require.Equal(t, 0, code, hook)
			require.Equal(t, jujutest.Status{Status: "blocked", Message: noLXD}, s.UnitStatus(), hook)
		}
		for _, l := range s.Logs() {
			require.NotContains(t, l.Message, plainToken)
		}
	})
	t.Run("stop and remove with nothing set up", func(t *testing.T) {
		s := startSim(t, jujutest.Options{})
		for _, hook := range []string{"stop", "remove"} {
			code, _ := dispatchIn(t, s, "hooks/"+hook, nil, h)
			require.Equal(t, 0, code)
		}
		require.Equal(t, "maintenance", s.UnitStatus().Status)
		require.Empty(t, s.State())
	})
	t.Run("granted secret token", func(t *testing.T) {
		s := startSim(t, jujutest.Options{})
		uri := s.AddSecret(map[string]string{"token": "ghp_fromsecret"}, jujutest.SecretOptions{Granted: true})
		require.NoError(t, s.SetConfig(map[string]any{"path": "acme", "token": uri, "lxd-socket": noSocket}))
		code, _ := dispatchIn(t, s, "hooks/config-changed", nil, h)
		require.Equal(t, 0, code)
		require.Equal(t, jujutest.Status{Status: "blocked", Message: noLXD}, s.UnitStatus(), "the token was read")
	})
	t.Run("secret not granted blocks naming token", func(t *testing.T) {
		s := startSim(t, jujutest.Options{})
		uri := s.AddSecret(map[string]string{"token": "ghp_notgranted"}, jujutest.SecretOptions{})
		require.NoError(t, s.SetConfig(map[string]any{"path": "acme", "token": uri, "lxd-socket": noSocket}))
		code, _ := dispatchIn(t, s, "hooks/config-changed", nil, h)
		require.Equal(t, 0, code)
		require.Equal(t, jujutest.Status{Status: "blocked", Message: "token: cannot read secret " + uri + ": permission denied (grant it with juju grant-secret)"}, s.UnitStatus())

		require.NoError(t, s.GrantSecret(uri))
		code, _ = dispatchIn(t, s, "hooks/config-changed", nil, h)
		require.Equal(t, 0, code)
		require.Equal(t, jujutest.Status{Status: "blocked", Message: noLXD}, s.UnitStatus())
	})
	t.Run("secret without a token key", func(t *testing.T) {
		s := startSim(t, jujutest.Options{})
		uri := s.AddSecret(map[string]string{"pat": "x"}, jujutest.SecretOptions{Granted: true})
		require.NoError(t, s.SetConfig(map[string]any{"path": "acme", "token": uri}))
		dispatchIn(t, s, "hooks/config-changed", nil, h)
		require.Equal(t, jujutest.Status{Status: "blocked", Message: "token: cannot read secret " + uri + `: secret key "token" not found`}, s.UnitStatus())
	})
	t.Run("actions report configuration problems", func(t *testing.T) {
		s := startSim(t, jujutest.Options{Config: map[string]any{"path": "acme", "token": plainToken, "vm-memory": "7XB"}})
		for _, action := range []string{"check-runners", "reconcile-runners", "flush-runners", "build-image", "update-runner-bin"} {
			code, r := dispatchIn(t, s, "actions/"+action, map[string]any{"flush-busy": false}, h)
			require.Equal(t, 0, code)
			require.Equal(t, "failed", r.Action.Status, action)
			require.Equal(t, `invalid configuration: vm-memory "7XB": not a size (use e.g. 512MiB or 7GiB)`, r.Action.Message, action)
		}
		require.Equal(t, "blocked", s.UnitStatus().Status)
	})
	t.Run("custom events block and succeed", func(t *testing.T) {
		s := startSim(t, jujutest.Options{Config: valid})
		for _, ev := range []string{schedule.EventReconcile, schedule.EventBuildImage} {
			code, _ := dispatchIn(t, s, ev, nil, h)
			require.Equal(t, 0, code)
			require.Equal(t, jujutest.Status{Status: "blocked", Message: noLXD}, s.UnitStatus())
		}
	})
}

func TestPeriodicJobs(t *testing.T) {
	cfg := pool.Decode(map[string]any{"reconcile-interval": 8, "timer-directory": "/etc/systemd/system", "cron-directory": "/etc/cron.d"})
	job := hooks.TimerJob(cfg, "github-runner/3", schedule.Cron)
	require.Equal(t, "github-runner-reconcile-github-runner-3", job.Name)
	require.Equal(t, 8*time.Minute, job.Interval)
	require.Equal(t, 2*time.Minute, job.RandomDelay)
	require.Equal(t, "juju-exec github-runner/3 'JUJU_DISPATCH_PATH=reconcile-runners ./dispatch'", job.DispatchCommand())
	require.Equal(t, []string{"/etc/cron.d/github-runner-reconcile-github-runner-3"}, job.Paths())
	files, err := job.Files()
	require.NoError(t, err)
	require.Contains(t, files["/etc/cron.d/github-runner-reconcile-github-runner-3"], "*/8 * * * * root mkdir -p /run/lock && flock -n")

	cmd := hooks.ImageBuildJob(cfg, "github-runner/3").CronCommand()
	require.Contains(t, cmd, "flock -n /run/lock/github-runner-image-build-github-runner-3.lock")
	require.Contains(t, cmd, "timeout 5400 juju-exec github-runner/3 'JUJU_DISPATCH_PATH=build-runner-image ./dispatch'")
}

func TestStateDir(t *testing.T) {
	require.Equal(t, "/var/lib/juju/agents/unit-github-runner-0/github-runner-state",
		hooks.StateDirFor("/var/lib/juju/agents/unit-github-runner-0/charm"))
}
