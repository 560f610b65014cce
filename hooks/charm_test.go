package hooks_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/hooks"
	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/juju/jujutest"
	"charm.example/github-runner/internal/runners"
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
		for _, ev := range []string{hooks.EventReconcile, hooks.EventBuildImage} {
			code, _ := dispatchIn(t, s, ev, nil, h)
			require.Equal(t, 0, code)
			require.Equal(t, jujutest.Status{Status: "blocked", Message: noLXD}, s.UnitStatus())
		}
	})
}

func TestClassify(t *testing.T) {
	// Far off, the date is given too; minutes are rounded up.
	reset := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Minute).Add(30 * time.Second)
	resumes := reset.Add(30 * time.Second).Format("2006-01-02 15:04 UTC")
	api := func(status int, kind error) error {
		return &github.APIError{Endpoint: "GET /orgs/{org}/actions/runners", StatusCode: status, Kind: kind}
	}
	for _, tc := range []struct {
		name   string
		err    error
		kind   hooks.VerdictKind
		msg    string
		config bool
	}{
		{name: "config", err: fmt.Errorf("x: %w", &hooks.ConfigError{Problems: []hooks.Problem{{Option: "path", Text: "path: missing"}}}),
			kind: hooks.Block, msg: "path: missing", config: true},
		{name: "blocked", err: &hooks.BlockedError{Message: "LXD not found", Err: errors.New("no socket")}, kind: hooks.Block, msg: "LXD not found"},
		{name: "bad credentials", err: api(401, github.ErrBadCredentials), kind: hooks.Block, msg: "token: rejected by GitHub (bad credentials)"},
		{name: "forbidden for an organisation", err: &hooks.GitHubError{Path: "acme", Err: api(403, github.ErrForbidden)},
			kind: hooks.Block, msg: "token: missing permission: the token needs the admin:org scope for organisation acme"},
		{name: "forbidden for a repository", err: &hooks.GitHubError{Path: "acme/web", Err: api(403, github.ErrForbidden)},
			kind: hooks.Block, msg: "token: missing permission: the token needs the repo scope for repository acme/web"},
		{name: "not found", err: &hooks.GitHubError{Path: "acme/web", Err: fmt.Errorf("listing: %w", api(404, github.ErrNotFound))},
			kind: hooks.Block, msg: `path "acme/web": not found or not visible to the token`},
		{name: "unknown group", err: &github.UnknownGroupError{Org: "acme", Group: "gpu"},
			kind: hooks.Block, msg: `group "gpu": no such runner group in organisation acme`, config: true},
		{name: "rate limit", err: &hooks.GitHubError{Path: "acme", Err: &github.RateLimitError{StatusCode: 403, Reset: reset}},
			kind: hooks.Wait, msg: "GitHub rate limit reached; resumes at " + resumes},
		{name: "rate limit without a reset", err: &github.RateLimitError{StatusCode: 429},
			kind: hooks.Wait, msg: "GitHub rate limit reached; retrying at the next reconcile"},
		{name: "blocking beats passing in a join", err: errors.Join(api(502, github.ErrServer), api(401, github.ErrBadCredentials)),
			kind: hooks.Block, msg: "token: rejected by GitHub (bad credentials)"},
		{name: "server error", err: &hooks.GitHubError{Path: "acme", Err: api(502, github.ErrServer)}, kind: hooks.Retry},
		{name: "anything else", err: errors.New("lxd is not answering"), kind: hooks.Retry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := hooks.Classify(tc.err)
			require.Equal(t, tc.kind, v.Kind)
			require.Equal(t, tc.msg, v.Message)
			require.Equal(t, tc.config, v.Config)
		})
	}
}

func TestSummary(t *testing.T) {
	rs := func(states ...runners.RunnerState) []runners.RunnerInfo {
		var out []runners.RunnerInfo
		for i, s := range states {
			out = append(out, runners.RunnerInfo{Name: fmt.Sprint("r", i), State: s})
		}
		return out
	}
	for _, tc := range []struct {
		wanted int
		rs     []runners.RunnerInfo
		want   string
	}{
		{3, rs(runners.StateIdle, runners.StateIdle, runners.StateIdle), "3/3 runners online"},
		{3, rs(runners.StateIdle, runners.StateBusy, runners.StateStarting), "2/3 runners online (1 busy), 1 starting"},
		{1, rs(runners.StateIdle), "1/1 runner online"},
		{2, nil, "0/2 runners online, 2 missing"},
		{2, rs(runners.StateIdle, runners.StateDead), "1/2 runners online, 1 unhealthy, 1 missing"},
		{0, nil, "no runners (virtual-machines is 0)"},
		{0, rs(runners.StateBusy), "virtual-machines is 0; 1 runner left, 1 busy"},
	} {
		require.Equal(t, tc.want, hooks.Summary(tc.wanted, tc.rs))
	}
}

// Every result key is one action-set accepts.
func TestReportKeys(t *testing.T) {
	check := func(m map[string]any) {
		for k, v := range m {
			require.NoError(t, juju.ValidateActionKey(k))
			if sub, ok := v.(map[string]any); ok {
				for sk := range sub {
					require.NoError(t, juju.ValidateActionKey(k+"."+sk))
				}
			}
		}
	}
	report := hooks.RunnerReport([]runners.RunnerInfo{
		{Name: "a-0-1", State: runners.StateIdle}, {Name: "a-0-2", State: runners.StateBusy},
		{Name: "a-0-3", State: runners.StateStarting}, {Name: "a-0-4", State: runners.StateDead},
		{Name: "a-0-5", State: runners.StateGhost},
	})
	check(report)
	require.Equal(t, map[string]any{
		"online": 2, "offline": 3, "busy": 1, "idle": 1, "starting": 1, "unhealthy": 2, "total": 5,
		"runners": "a-0-1,a-0-2,a-0-3,a-0-4,a-0-5", "idle-runners": "a-0-1", "busy-runners": "a-0-2",
		"starting-runners": "a-0-3", "unhealthy-runners": "a-0-4,a-0-5",
	}, report)
	res := hooks.ResultReport(runners.Result{Before: 1, After: 2, Delta: 1, Created: []string{"a-0-9"},
		Removed:  []runners.Removal{{Name: "a-0-1", Reason: runners.Reason{Kind: runners.RemovalProcessGone}}},
		Failures: []runners.Failure{{Name: "a-0-8", Err: errors.New("boom")}}})
	check(res)
	require.Equal(t, "a-0-1 (dead: runner process not alive)", res["removed-runners"])
	require.Equal(t, "a-0-8", res["failed-runners"])
}

func TestPeriodicJobs(t *testing.T) {
	cfg := hooks.ParseConfig(map[string]any{"reconcile-interval": 8, "timer-directory": "/etc/systemd/system", "cron-directory": "/etc/cron.d"})
	job := hooks.TimerJob(cfg, "github-runner/3", schedule.Cron)
	require.Equal(t, "github-runner-reconcile-github-runner-3", job.Name)
	require.Equal(t, 8*time.Minute, job.Interval)
	require.Equal(t, 2*time.Minute, job.RandomDelay)
	require.Equal(t, "juju-exec github-runner/3 'JUJU_DISPATCH_PATH=reconcile-runners ./dispatch'", job.DispatchCommand())
	require.Equal(t, []string{"/etc/cron.d/github-runner-reconcile-github-runner-3"}, job.Paths())
	files, err := job.Files()
	require.NoError(t, err)
	require.Contains(t, files["/etc/cron.d/github-runner-reconcile-github-runner-3"], "*/8 * * * * root mkdir -p /run/lock && flock -n")

	cmd := hooks.ImageBuildCommand(cfg, "github-runner/3")
	require.Contains(t, cmd, "flock -n /run/lock/github-runner-image-build-github-runner-3.lock")
	require.Contains(t, cmd, "timeout 5400 juju-exec github-runner/3 'JUJU_DISPATCH_PATH=build-runner-image ./dispatch'")
}

func TestWiringFromConfig(t *testing.T) {
	require.Equal(t, "/var/lib/juju/agents/unit-github-runner-0/github-runner-state",
		hooks.StateDirFor("/var/lib/juju/agents/unit-github-runner-0/charm"))
	for base, want := range map[string]runners.ImageSource{
		"jammy":          {Alias: "22.04", Server: "https://images.example.com", Protocol: "simplestreams"},
		"noble":          {Alias: "24.04", Server: "https://images.example.com", Protocol: "simplestreams"},
		"my-base/22.04":  {Alias: "my-base/22.04"},
		"busybox-for-ci": {Alias: "busybox-for-ci"},
	} {
		cfg := hooks.Config{BaseImage: base, ImageServer: "https://images.example.com"}
		require.Equal(t, want, cfg.BaseImageSource(), base)
	}

	// No socket where lxd-socket points: the option is named.
	cfg := hooks.ParseConfig(validConfig(t))
	cfg.LXDSocket = filepath.Join(t.TempDir(), "unix.socket")
	_, err := hooks.NewPool(cfg, hooks.PoolOptions{App: "github-runner", Unit: "github-runner/0", StateDir: t.TempDir()})
	var cerr *hooks.ConfigError
	require.ErrorAs(t, err, &cerr)
	require.Equal(t, []string{"lxd-socket"}, cerr.Options())
	// None found at all: blocked with how to fix it.
	v := hooks.Classify(hooks.NoLXDError(hooks.Config{}, errors.New("no socket")))
	require.Equal(t, hooks.Block, v.Kind)
	require.True(t, strings.HasPrefix(v.Message, "LXD not found: install it"), v.Message)
}
