package github_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/github/githubtest"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     github.Config
		wantErr string
	}{
		{"bad path", github.Config{Path: "a/b/c", Token: "t"}, "invalid GitHub path"},
		{"no token", github.Config{Path: "acme"}, "a token or a GitHub App is required"},
		{"blank token", github.Config{Path: "acme", Token: "  "}, "a token or a GitHub App is required"},
		{"both token kinds", github.Config{Path: "acme", Token: "t", TokenSource: staticSource("x")}, "set one of a token, a token source or a GitHub App"},
		{"bad scheme", github.Config{Path: "acme", Token: "t", APIURL: "ftp://example.com/"}, "scheme"},
		{"no host", github.Config{Path: "acme", Token: "t", APIURL: "https:///api/v3"}, "no host"},
		{"credentials in the URL", github.Config{Path: "acme", Token: "t", APIURL: "https://u:p@example.com/"}, "only scheme, host and path"},
		{"credentials in a bad URL", github.Config{Path: "acme", Token: "t", APIURL: "ftp://u:p@example.com/"}, "scheme"},
		{"unparsable URL", github.Config{Path: "acme", Token: "t", APIURL: "http://u:p@[::1/"}, "invalid GitHub API URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := github.New(tt.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "u:p")
		})
	}
}

type staticSource string

func (s staticSource) Token(context.Context) (string, error) { return string(s), nil }

func TestURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		apiURL, path, wantAPI, wantWeb string
	}{
		{"", "acme", "https://api.github.com/", "https://github.com/acme"},
		{"https://api.github.com", "acme/website", "https://api.github.com/", "https://github.com/acme/website"},
		{"https://ghe.example.com/api/v3", "acme", "https://ghe.example.com/api/v3/", "https://ghe.example.com/acme"},
		{"https://ghe.example.com/api/v3/", "acme/x", "https://ghe.example.com/api/v3/", "https://ghe.example.com/acme/x"},
		{"https://api.octo.ghe.com/", "acme", "https://api.octo.ghe.com/", "https://octo.ghe.com/acme"},
		{"http://127.0.0.1:8080", "acme", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/acme"},
		{"http://127.0.0.1:8080/prefix/", "acme/x", "http://127.0.0.1:8080/prefix/", "http://127.0.0.1:8080/acme/x"},
	}
	for _, tt := range tests {
		t.Run(tt.apiURL+" "+tt.path, func(t *testing.T) {
			c, err := github.New(github.Config{Path: tt.path, Token: "t", APIURL: tt.apiURL})
			require.NoError(t, err)
			assert.Equal(t, tt.wantAPI, c.APIURL())
			assert.Equal(t, tt.wantWeb, c.WebURL())
			assert.Equal(t, tt.path, c.Scope().String())
		})
	}
}

func TestListRunnersReadsAllPages(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)
	// 250 of ours, with foreign runners mixed in between.
	var want []string
	for i := range 250 {
		name := fmt.Sprintf("app-0-%03d", i)
		want = append(want, name)
		_, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: name, Online: i%3 == 0, Busy: i%5 == 0, Labels: []string{"app"}})
		require.NoError(t, err)
		if i%4 == 0 {
			_, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: fmt.Sprintf("other-%03d", i), Online: true})
			require.NoError(t, err)
		}
	}
	_, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: "app-1-000"})
	require.NoError(t, err)
	c := newClient(t, srv, "acme", adminToken)

	runners, err := c.ListRunners(ctx, "app-0-")
	require.NoError(t, err)
	var got []string
	for _, r := range runners {
		got = append(got, r.Name)
	}
	sort.Strings(got)
	assert.Equal(t, want, got)
	assert.Equal(t, 4, c.RequestCounts()["GET /orgs/{org}/actions/runners"], "314 runners in pages of 100")
	assert.Equal(t, 4, srv.Count("GET /orgs/{org}/actions/runners"))

	first := runners[0]
	assert.Equal(t, "app-0-000", first.Name)
	assert.True(t, first.Online())
	assert.True(t, first.Busy)
	assert.False(t, first.Idle())
	assert.Equal(t, "Linux", first.OS)
	assert.Equal(t, []string{"self-hosted", "Linux", "X64", "app"}, first.Labels)
	idle := runners[3]
	assert.True(t, idle.Idle())

	all, err := c.ListRunners(ctx, "")
	require.NoError(t, err)
	assert.Len(t, all, 250+63+1)

	none, err := newClient(t, srv, "acme/website", adminToken).ListRunners(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestGetAndDeleteRunner(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)
	c := newClient(t, srv, "acme/website", repoToken)
	idle, err := srv.AddRunner("acme/website", githubtest.RunnerSeed{Name: "idle", Online: true, Ephemeral: true})
	require.NoError(t, err)
	busy, err := srv.AddRunner("acme/website", githubtest.RunnerSeed{Name: "busy", Online: true, Busy: true})
	require.NoError(t, err)

	r, err := c.GetRunner(ctx, idle.ID)
	require.NoError(t, err)
	assert.Equal(t, github.Runner{ID: idle.ID, Name: "idle", OS: "Linux", Status: "online",
		Labels: []string{"self-hosted", "Linux", "X64"}}, r)

	err = c.DeleteRunner(ctx, busy.ID)
	require.Error(t, err)
	assert.ErrorIs(t, err, github.ErrBusy)
	var apiErr *github.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnprocessableEntity, apiErr.StatusCode)
	assert.Contains(t, err.Error(), `Runner "busy" is still running a job`)

	require.NoError(t, c.DeleteRunner(ctx, idle.ID))
	require.NoError(t, c.DeleteRunner(ctx, idle.ID), "deleting a runner that is gone is success")
	_, err = c.GetRunner(ctx, idle.ID)
	assert.ErrorIs(t, err, github.ErrNotFound)
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)
	tests := []struct {
		name, path, token string
		want              error
		status            int
	}{
		{"unknown token", "acme", "ghp_unknown", github.ErrBadCredentials, 401},
		{"org token without admin:org", "acme", repoToken, github.ErrForbidden, 403},
		{"repo token without repo", "acme/website", noneToken, github.ErrForbidden, 403},
		{"unknown organization", "nobody", adminToken, github.ErrNotFound, 404},
		{"unknown repository", "acme/nothing", adminToken, github.ErrNotFound, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, srv, tt.path, tt.token)
			_, err := c.ListRunners(ctx, "")
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.want)
			assert.NotErrorIs(t, err, github.ErrRateLimited)
			var apiErr *github.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.status, apiErr.StatusCode)
			assert.Equal(t, "GET "+map[bool]string{true: "/orgs/{org}", false: "/repos/{owner}/{repo}"}[c.Scope().IsOrg()]+"/actions/runners", apiErr.Endpoint)
			assert.NotContains(t, err.Error(), tt.token)

			_, err = c.RegistrationToken(ctx)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)
	for _, path := range []string{"acme", "acme/website"} {
		t.Run(path, func(t *testing.T) {
			c := newClient(t, srv, path, adminToken)
			reg, err := c.RegistrationToken(ctx)
			require.NoError(t, err)
			assert.Len(t, reg.Value, 29)
			assert.WithinDuration(t, time.Now().Add(time.Hour), reg.ExpiresAt, time.Minute)
			rm, err := c.RemoveToken(ctx)
			require.NoError(t, err)
			assert.NotEqual(t, reg.Value, rm.Value)
		})
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	t.Parallel()
	tok := github.Token{Value: "SECRETTOKENVALUE", ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	jit := github.JITConfig{Runner: github.Runner{ID: 7, Name: "r"}, EncodedConfig: "SECRETJITCONFIG"}
	dl := github.Download{OS: "linux", Filename: "f", TempDownloadToken: "SECRETDOWNLOAD"}
	for _, v := range []any{tok, &tok, jit, &jit, dl} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x"} {
			s := fmt.Sprintf(verb, v)
			assert.NotContains(t, s, "SECRET", "%s printed a secret: %s", verb, s)
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "v", v)
		assert.NotContains(t, buf.String(), "SECRET")
	}
	assert.Contains(t, fmt.Sprint(tok), "2030-01-01")
	assert.Contains(t, fmt.Sprint(jit), `Name:"r"`)
	wrapped := fmt.Errorf("context: %v", tok)
	assert.NotContains(t, wrapped.Error(), "SECRET")
}

func TestGenerateJITConfigInOrganization(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)
	// More groups than one page holds, so the lookup must paginate.
	for i := range 120 {
		_, err := srv.AddRunnerGroup("acme", fmt.Sprintf("group-%03d", i))
		require.NoError(t, err)
	}
	ci, err := srv.AddRunnerGroup("acme", "CI-Runners")
	require.NoError(t, err)
	c := newClient(t, srv, "acme", adminToken)

	cfg, err := c.GenerateJITConfig(ctx, github.JITRequest{Name: "app-0-a", Labels: []string{"app", "x64"}, Group: "ci-runners", WorkFolder: "work"})
	require.NoError(t, err)
	assert.Equal(t, "app-0-a", cfg.Runner.Name)
	assert.Equal(t, "offline", cfg.Runner.Status)
	assert.NotEmpty(t, cfg.EncodedConfig)
	info, err := githubtest.ParseJITConfig(cfg.EncodedConfig)
	require.NoError(t, err)
	assert.Equal(t, cfg.Runner.ID, info.RunnerID)
	assert.Equal(t, "work", info.WorkFolder)
	sim, ok := srv.Runner(cfg.Runner.ID)
	require.True(t, ok)
	assert.Equal(t, ci, sim.GroupID)

	groupListings := func() int { return c.RequestCounts()["GET /orgs/{org}/actions/runner-groups"] }
	assert.Equal(t, 2, groupListings(), "121 groups in two pages")

	_, err = c.GenerateJITConfig(ctx, github.JITRequest{Name: "app-0-b", Labels: []string{"app"}, Group: "CI-RUNNERS"})
	require.NoError(t, err)
	def, err := c.GenerateJITConfig(ctx, github.JITRequest{Name: "app-0-c", Labels: []string{"app"}})
	require.NoError(t, err)
	assert.Equal(t, 2, groupListings(), "group ids are cached")
	sim, _ = srv.Runner(def.Runner.ID)
	assert.EqualValues(t, 1, sim.GroupID, "no group means the default group")

	_, err = c.GenerateJITConfig(ctx, github.JITRequest{Name: "app-0-d", Labels: []string{"app"}, Group: "nope"})
	require.Error(t, err)
	assert.ErrorIs(t, err, github.ErrUnknownGroup)
	var ug *github.UnknownGroupError
	require.ErrorAs(t, err, &ug)
	assert.Equal(t, "nope", ug.Group)
	assert.Contains(t, err.Error(), `"nope"`)
	assert.Equal(t, 4, groupListings(), "a miss refreshes the cache once")

	_, err = c.GenerateJITConfig(ctx, github.JITRequest{Name: "app-0-a", Labels: []string{"app"}})
	assert.ErrorIs(t, err, github.ErrConflict)

	for _, bad := range []github.JITRequest{
		{Name: "", Labels: []string{"x"}},
		{Name: "n"},
		{Name: "n", Labels: make([]string, 101)},
	} {
		_, err := c.GenerateJITConfig(ctx, bad)
		assert.ErrorIs(t, err, github.ErrValidation)
	}
}

func TestGenerateJITConfigGroupCacheIsShared(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)
	_, err := srv.AddRunnerGroup("acme", "ci")
	require.NoError(t, err)
	c := newClient(t, srv, "acme", adminToken)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GenerateJITConfig(ctx, github.JITRequest{Name: fmt.Sprintf("app-%d", i), Labels: []string{"x"}, Group: "ci"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, 1, c.RequestCounts()["GET /orgs/{org}/actions/runner-groups"], "concurrent misses share one listing")
	assert.Equal(t, 20, c.RequestCounts()["POST /orgs/{org}/actions/runners/generate-jitconfig"])
}

func TestGenerateJITConfigInRepository(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)
	c := newClient(t, srv, "acme/website", repoToken)
	cfg, err := c.GenerateJITConfig(ctx, github.JITRequest{Name: "r", Labels: []string{"x"}, Group: "ignored"})
	require.NoError(t, err)
	assert.Equal(t, []string{"self-hosted", "Linux", "X64", "x"}, cfg.Runner.Labels)
	assert.Zero(t, c.RequestCounts()["GET /orgs/{org}/actions/runner-groups"], "repository runners need no group lookup")
	sim, _ := srv.Runner(cfg.Runner.ID)
	assert.EqualValues(t, 1, sim.GroupID)
	assert.Equal(t, "acme/website", sim.Path)
}

func TestRunnerDownloads(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{RunnerVersion: "2.321.0"})
	ctx := testContext(t, 30*time.Second)
	c := newClient(t, srv, "acme", adminToken)
	downloads, err := c.RunnerDownloads(ctx)
	require.NoError(t, err)
	require.Len(t, downloads, len(srv.Downloads()))

	tests := []struct {
		goos, goarch, wantFile, wantErr string
	}{
		{"linux", "amd64", "actions-runner-linux-x64-2.321.0.tar.gz", ""},
		{"linux", "arm64", "actions-runner-linux-arm64-2.321.0.tar.gz", ""},
		{"linux", "arm", "actions-runner-linux-arm-2.321.0.tar.gz", ""},
		{"darwin", "arm64", "actions-runner-osx-arm64-2.321.0.tar.gz", ""},
		{"windows", "amd64", "actions-runner-win-x64-2.321.0.zip", ""},
		{"osx", "amd64", "actions-runner-osx-x64-2.321.0.tar.gz", ""},
		{"linux", "riscv64", "", `architecture "riscv64"`},
		{"plan9", "amd64", "", `OS "plan9"`},
		{"darwin", "arm", "", "none for osx/arm"},
	}
	for _, tt := range tests {
		t.Run(tt.goos+"/"+tt.goarch, func(t *testing.T) {
			d, err := github.PickDownload(downloads, tt.goos, tt.goarch)
			if tt.wantErr != "" {
				assert.ErrorIs(t, err, github.ErrNoDownload)
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantFile, d.Filename)
			assert.Len(t, d.SHA256, 64)
			assert.True(t, strings.HasPrefix(d.URL, srv.URL()))
		})
	}
}

func TestServerErrorsAndNetworkFailures(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	const list = "/orgs/{org}/actions/runners"

	t.Run("5xx", func(t *testing.T) {
		c := newClient(t, srv, "acme", adminToken)
		srv.InjectFault(githubtest.Fault{Path: list, Status: http.StatusBadGateway, Count: 1})
		_, err := c.ListRunners(testContext(t, 10*time.Second), "")
		require.Error(t, err)
		assert.ErrorIs(t, err, github.ErrServer)
		var apiErr *github.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusBadGateway, apiErr.StatusCode)
		_, err = c.ListRunners(testContext(t, 10*time.Second), "")
		assert.NoError(t, err, "a passing fault passes")
		assert.Equal(t, 2, c.RequestCounts()["GET "+list], "failed requests count too")
	})
	t.Run("context deadline during injected latency", func(t *testing.T) {
		c := newClient(t, srv, "acme", adminToken)
		srv.InjectFault(githubtest.Fault{Path: list, Latency: 5 * time.Second, Count: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.ListRunners(ctx, "")
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 3*time.Second)
		assert.NotErrorIs(t, err, github.ErrServer)
	})
	t.Run("HTTP client timeout", func(t *testing.T) {
		c := newClient(t, srv, "acme", adminToken, github.Config{HTTPClient: &http.Client{Timeout: 200 * time.Millisecond}})
		srv.InjectFault(githubtest.Fault{Path: list, Latency: 5 * time.Second, Count: 1})
		_, err := c.ListRunners(testContext(t, 10*time.Second), "")
		require.Error(t, err)
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		assert.True(t, ne.Timeout())
	})
	t.Run("dropped connection", func(t *testing.T) {
		c := newClient(t, srv, "acme", adminToken)
		srv.InjectFault(githubtest.Fault{Method: "POST", Path: "/orgs/{org}/actions/runners/registration-token", Drop: true, Count: 1})
		_, err := c.RegistrationToken(testContext(t, 10*time.Second))
		require.Error(t, err)
		var apiErr *github.APIError
		assert.False(t, errors.As(err, &apiErr), "a network failure is not an API answer: %v", err)
		assert.Equal(t, 1, c.RequestCounts()["POST /orgs/{org}/actions/runners/registration-token"])
	})
}

func TestPrimaryRateLimit(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, githubtest.Options{PrimaryLimitStatus: status})
			ctx := testContext(t, 30*time.Second)
			c := newClient(t, srv, "acme", adminToken)

			_, err := c.ListRunners(ctx, "")
			require.NoError(t, err)
			rl := c.RateLimit()
			assert.True(t, rl.Known)
			assert.Equal(t, githubtest.DefaultRateLimit, rl.Limit)
			assert.Equal(t, githubtest.DefaultRateLimit-1, rl.Remaining)
			assert.Equal(t, 1, rl.Used)
			assert.Equal(t, "core", rl.Resource)

			// GitHub says no: the client learns it from the answer.
			srv.SetRateRemaining(adminToken, 0)
			_, err = c.ListRunners(ctx, "")
			require.Error(t, err)
			assert.ErrorIs(t, err, github.ErrRateLimited)
			var rle *github.RateLimitError
			require.ErrorAs(t, err, &rle)
			assert.Equal(t, status, rle.StatusCode)
			assert.False(t, rle.Secondary)
			assert.WithinDuration(t, time.Now().Add(time.Hour), rle.Reset, time.Minute)
			assert.Greater(t, rle.RetryAfter, 50*time.Minute)
			assert.True(t, c.RateLimit().Exhausted(time.Now()))

			// From now until the reset, nothing reaches GitHub.
			before := srv.RESTCount()
			for _, call := range []func() error{
				func() error { _, err := c.ListRunners(ctx, ""); return err },
				func() error { _, err := c.GetRunner(ctx, 1); return err },
				func() error { return c.DeleteRunner(ctx, 1) },
				func() error { _, err := c.RegistrationToken(ctx); return err },
				func() error {
					_, err := c.GenerateJITConfig(ctx, github.JITRequest{Name: "n", Labels: []string{"x"}})
					return err
				},
			} {
				err := call()
				require.ErrorIs(t, err, github.ErrRateLimited)
				require.ErrorAs(t, err, &rle)
				assert.Zero(t, rle.StatusCode, "refused locally")
			}
			assert.Equal(t, before, srv.RESTCount(), "no request reached the simulator")

			// GitHub's /rate_limit stays readable.
			st, err := c.FetchRateLimit(ctx)
			require.NoError(t, err)
			assert.Equal(t, 0, st.Remaining)
		})
	}
}

func TestPrimaryRateLimitResets(t *testing.T) {
	t.Parallel()
	const otherToken = "ghp_second"
	srv := newServer(t, githubtest.Options{Tokens: map[string][]string{
		adminToken: {githubtest.ScopeAdminOrg}, otherToken: {githubtest.ScopeAdminOrg},
	}})
	ctx := testContext(t, 30*time.Second)
	failFast := newClient(t, srv, "acme", adminToken)
	waiting := newClient(t, srv, "acme", otherToken, github.Config{WaitForRateLimit: true})
	// Each token has two requests left in a window that ends in two seconds.
	for _, tok := range []string{adminToken, otherToken} {
		srv.SetRateRemaining(tok, 2)
		srv.SetRateReset(tok, time.Now().Add(2*time.Second))
	}
	for _, c := range []*github.Client{failFast, waiting} {
		for range 2 {
			_, err := c.ListRunners(ctx, "")
			require.NoError(t, err)
		}
		assert.Equal(t, 0, c.RateLimit().Remaining, "the last request spent the budget")
	}

	t.Run("a fail-fast client is refused locally until the reset, then works", func(t *testing.T) {
		before := srv.RESTCount()
		refusals := 0
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var err error
		for {
			if _, err = failFast.ListRunners(ctx, ""); !errors.Is(err, github.ErrRateLimited) {
				break
			}
			refusals++
			assert.Equal(t, before, srv.RESTCount(), "refused without a request")
			select {
			case <-ctx.Done():
				t.Fatal("the rate limit never lifted")
			case <-tick.C:
			}
		}
		require.NoError(t, err, "works again after the reset")
		assert.Greater(t, refusals, 0)
		assert.Equal(t, before+1, srv.RESTCount(), "one request, after the reset")
	})
	t.Run("a deadline before the reset fails at once", func(t *testing.T) {
		srv.SetRateRemaining(otherToken, 0)
		srv.SetRateReset(otherToken, time.Now().Add(time.Hour))
		_, err := waiting.ListRunners(ctx, "")
		require.ErrorIs(t, err, github.ErrRateLimited)
		before := srv.RESTCount()
		short, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		start := time.Now()
		_, err = waiting.ListRunners(short, "")
		assert.ErrorIs(t, err, github.ErrRateLimited)
		assert.Less(t, time.Since(start), 100*time.Millisecond, "no pointless wait")
		assert.Equal(t, before, srv.RESTCount())
		// Back to a window that ends in two seconds.
		srv.SetRateReset(otherToken, time.Now().Add(2*time.Second))
		srv.SetRateRemaining(otherToken, 1)
		_, err = waiting.FetchRateLimit(ctx)
		require.NoError(t, err)
	})
	t.Run("a call that may wait goes out after the reset", func(t *testing.T) {
		srv.SetRateRemaining(otherToken, 1)
		_, err := waiting.ListRunners(ctx, "")
		require.NoError(t, err)
		before := srv.RESTCount()
		runners, err := waiting.ListRunners(ctx, "")
		require.NoError(t, err)
		assert.Empty(t, runners)
		assert.Equal(t, before+1, srv.RESTCount(), "exactly one request, after the reset")
		assert.Greater(t, waiting.RateLimit().Remaining, 0)
	})
}

func TestSecondaryRateLimit(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusForbidden, http.StatusTooManyRequests} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, githubtest.Options{})
			ctx := testContext(t, 30*time.Second)
			c := newClient(t, srv, "acme", adminToken)
			srv.InjectFault(githubtest.Fault{
				Method: "POST", Path: "/orgs/{org}/actions/runners/generate-jitconfig",
				SecondaryLimit: true, Status: status, RetryAfter: 90 * time.Second, Count: 1,
			})
			_, err := c.GenerateJITConfig(ctx, github.JITRequest{Name: "n", Labels: []string{"x"}})
			require.Error(t, err)
			var rle *github.RateLimitError
			require.ErrorAs(t, err, &rle)
			assert.True(t, rle.Secondary)
			assert.Equal(t, status, rle.StatusCode)
			assert.InDelta(t, 90, rle.RetryAfter.Seconds(), 1)
			assert.Contains(t, rle.Message, "secondary rate limit")

			before := srv.RESTCount()
			_, err = c.ListRunners(ctx, "")
			require.ErrorAs(t, err, &rle)
			assert.True(t, rle.Secondary)
			assert.Zero(t, rle.StatusCode, "refused locally")
			assert.InDelta(t, 90, rle.RetryAfter.Seconds(), 2)
			assert.Equal(t, before, srv.RESTCount(), "the client honours retry-after")
		})
	}
}

func TestRequestCountsAndLogs(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)
	var logs bytes.Buffer
	var mu sync.Mutex
	c := newClient(t, srv, "acme", adminToken, github.Config{
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	r, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: "x"})
	require.NoError(t, err)
	_, err = c.GetRunner(ctx, r.ID)
	require.NoError(t, err)
	jit, err := c.GenerateJITConfig(ctx, github.JITRequest{Name: "y", Labels: []string{"l"}})
	require.NoError(t, err)
	reg, err := c.RegistrationToken(ctx)
	require.NoError(t, err)
	_, err = c.RunnerDownloads(ctx)
	require.NoError(t, err)
	require.NoError(t, c.DeleteRunner(ctx, r.ID))

	assert.Equal(t, map[string]int{
		"GET /orgs/{org}/actions/runners/{runner_id}":         1,
		"GET /orgs/{org}/actions/runner-groups":               1,
		"POST /orgs/{org}/actions/runners/generate-jitconfig": 1,
		"POST /orgs/{org}/actions/runners/registration-token": 1,
		"GET /orgs/{org}/actions/runners/downloads":           1,
		"DELETE /orgs/{org}/actions/runners/{runner_id}":      1,
	}, c.RequestCounts())
	for endpoint, n := range c.RequestCounts() {
		assert.Equal(t, n, srv.Count(endpoint), endpoint)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &entry))
		assert.Equal(t, "github request", entry["msg"])
	}
	for _, secret := range []string{adminToken, jit.EncodedConfig, reg.Value} {
		assert.NotContains(t, logs.String(), secret)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type countingSource struct {
	mu sync.Mutex
	n  int
}

func (s *countingSource) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return adminToken, nil
}

func TestTokenSource(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	src := &countingSource{}
	c, err := github.New(github.Config{Path: "acme", TokenSource: src, APIURL: srv.URL()})
	require.NoError(t, err)
	_, err = c.ListRunners(testContext(t, 10*time.Second), "")
	require.NoError(t, err)
	assert.Equal(t, 1, src.n, "a token per request")

	failing, err := github.New(github.Config{Path: "acme", TokenSource: failingSource{}, APIURL: srv.URL()})
	require.NoError(t, err)
	_, err = failing.ListRunners(testContext(t, 10*time.Second), "")
	assert.ErrorIs(t, err, errNoToken)
	assert.Zero(t, failing.RequestCounts()["GET /orgs/{org}/actions/runners"])
}

var errNoToken = errors.New("no token today")

type failingSource struct{}

func (failingSource) Token(context.Context) (string, error) { return "", errNoToken }
