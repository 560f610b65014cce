package pool_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/runners"
)

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
		kind   pool.VerdictKind
		msg    string
		config bool
	}{
		{name: "config", err: fmt.Errorf("x: %w", &config.Error{Problems: []config.Problem{{Option: "path", Text: "path: missing"}}}),
			kind: pool.Block, msg: "path: missing", config: true},
		{name: "blocked", err: &pool.BlockedError{Message: "LXD not found", Err: errors.New("no socket")}, kind: pool.Block, msg: "LXD not found"},
		{name: "bad credentials", err: api(401, github.ErrBadCredentials), kind: pool.Block, msg: "token: rejected by GitHub (bad credentials)"},
		{name: "forbidden for an organisation", err: &pool.GitHubError{Path: "acme", Err: api(403, github.ErrForbidden)},
			kind: pool.Block, msg: "token: missing permission: the token needs the admin:org scope for organisation acme"},
		{name: "forbidden for a repository", err: &pool.GitHubError{Path: "acme/web", Err: api(403, github.ErrForbidden)},
			kind: pool.Block, msg: "token: missing permission: the token needs the repo scope for repository acme/web"},
		{name: "not found", err: &pool.GitHubError{Path: "acme/web", Err: fmt.Errorf("listing: %w", api(404, github.ErrNotFound))},
			kind: pool.Block, msg: `path "acme/web": not found or not visible to the token`},
		{name: "unknown group", err: &github.UnknownGroupError{Org: "acme", Group: "gpu"},
			kind: pool.Block, msg: `group "gpu": no such runner group in organisation acme`, config: true},
		{name: "rate limit", err: &pool.GitHubError{Path: "acme", Err: &github.RateLimitError{StatusCode: 403, Reset: reset}},
			kind: pool.Wait, msg: "GitHub rate limit reached; resumes at " + resumes},
		{name: "rate limit without a reset", err: &github.RateLimitError{StatusCode: 429},
			kind: pool.Wait, msg: "GitHub rate limit reached; retrying at the next reconcile"},
		{name: "blocking beats passing in a join", err: errors.Join(api(502, github.ErrServer), api(401, github.ErrBadCredentials)),
			kind: pool.Block, msg: "token: rejected by GitHub (bad credentials)"},
		{name: "server error", err: &pool.GitHubError{Path: "acme", Err: api(502, github.ErrServer)}, kind: pool.Retry},
		{name: "anything else", err: errors.New("lxd is not answering"), kind: pool.Retry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := pool.Classify(tc.err)
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
		require.Equal(t, tc.want, pool.Summary(tc.wanted, tc.rs))
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
	report := pool.RunnerReport([]runners.RunnerInfo{
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
	res := pool.ResultReport(runners.Result{Before: 1, After: 2, Delta: 1, Created: []string{"a-0-9"},
		Removed:  []runners.Removal{{Name: "a-0-1", Reason: runners.Reason{Kind: runners.RemovalProcessGone}}},
		Failures: []runners.Failure{{Name: "a-0-8", Err: errors.New("boom")}}})
	check(res)
	require.Equal(t, "a-0-1 (dead: runner process not alive)", res["removed-runners"])
	require.Equal(t, "a-0-8", res["failed-runners"])
}

func TestWiringFromConfig(t *testing.T) {
	for base, want := range map[string]runners.ImageSource{
		"jammy":          {Alias: "22.04", Server: "https://images.example.com", Protocol: "simplestreams"},
		"noble":          {Alias: "24.04", Server: "https://images.example.com", Protocol: "simplestreams"},
		"my-base/22.04":  {Alias: "my-base/22.04"},
		"busybox-for-ci": {Alias: "busybox-for-ci"},
	} {
		cfg := pool.Settings{BaseImage: base, ImageServer: "https://images.example.com"}
		require.Equal(t, want, cfg.BaseImageSource(), base)
	}

	// No socket where lxd-socket points: the option is named.
	cfg := pool.Decode(validConfig(t))
	cfg.LXDSocket = filepath.Join(t.TempDir(), "unix.socket")
	_, err := pool.Open(cfg, pool.Options{App: "github-runner", Unit: "github-runner/0", StateDir: t.TempDir()})
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	require.Equal(t, []string{"lxd-socket"}, cerr.Options())
	// None found at all: blocked with how to fix it.
	v := pool.Classify(pool.NoLXDError(pool.Settings{}, errors.New("no socket")))
	require.Equal(t, pool.Block, v.Kind)
	require.True(t, strings.HasPrefix(v.Message, "LXD not found: install it"), v.Message)
}

func TestRunnerProxyOverridesTheModels(t *testing.T) {
	model := runners.Proxy{HTTP: "http://model:3128", HTTPS: "http://model:3129", NoProxy: "model.internal"}
	s := pool.Decode(map[string]any{"runner-https-proxy": "http://runner:8080"})
	got := s.RunnerProxy(model)
	want := runners.Proxy{HTTP: "http://model:3128", HTTPS: "http://runner:8080", NoProxy: "model.internal"}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := pool.Decode(nil).RunnerProxy(model); got != model {
		t.Fatalf("no runner proxy: got %+v, want the model's", got)
	}
}

func TestClassifyMissingPackages(t *testing.T) {
	err := fmt.Errorf("cannot build: %w", &runners.MissingPackagesError{Packages: []string{"nosuch"}})
	v := pool.Classify(err)
	if v.Kind != pool.Block || !strings.Contains(v.Message, "image-packages") || !strings.Contains(v.Message, `"nosuch"`) {
		t.Fatalf("got %+v", v)
	}
}
