package github_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/github/githubtest"
)

// scopes are the two forms of every runner endpoint: the organization's and
// the repository's.
var scopes = []struct {
	path, prefix string
}{
	{"acme", "/orgs/{org}"},
	{"acme/website", "/repos/{owner}/{repo}"},
}

// namedCall is one Client call that talks to GitHub.
type namedCall struct {
	name string
	call func(ctx context.Context) error
}

// callsOf returns every Client call that talks to GitHub.
func callsOf(c *github.Client, runnerID int64) []namedCall {
	return []namedCall{
		{"ListRunners", func(ctx context.Context) error { _, err := c.ListRunners(ctx, ""); return err }},
		{"GetRunner", func(ctx context.Context) error { _, err := c.GetRunner(ctx, runnerID); return err }},
		{"RegistrationToken", func(ctx context.Context) error { _, err := c.RegistrationToken(ctx); return err }},
		{"RemoveToken", func(ctx context.Context) error { _, err := c.RemoveToken(ctx); return err }},
		{"RunnerDownloads", func(ctx context.Context) error { _, err := c.RunnerDownloads(ctx); return err }},
		{"GenerateJITConfig", func(ctx context.Context) error {
			_, err := c.GenerateJITConfig(ctx, github.JITRequest{Name: "jit", Labels: []string{"x"}})
			return err
		}},
		{"DeleteRunner", func(ctx context.Context) error { return c.DeleteRunner(ctx, runnerID) }},
	}
}

func TestEveryCallInBothScopes(t *testing.T) {
	t.Parallel()
	for _, scope := range scopes {
		t.Run(scope.path, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, githubtest.Options{})
			ctx := testContext(t, 30*time.Second)
			// Two pages of runners.
			var first githubtest.Runner
			for i := range 150 {
				r, err := srv.AddRunner(scope.path, githubtest.RunnerSeed{Name: fmt.Sprintf("app-%03d", i), Online: true, Labels: []string{"app"}})
				require.NoError(t, err)
				if i == 0 {
					first = r
				}
			}
			c := newClient(t, srv, scope.path, adminToken)

			runners, err := c.ListRunners(ctx, "app-")
			require.NoError(t, err)
			assert.Len(t, runners, 150)
			r, err := c.GetRunner(ctx, first.ID)
			require.NoError(t, err)
			assert.Equal(t, github.Runner{ID: first.ID, Name: "app-000", OS: "Linux", Status: github.StatusOnline,
				Labels: []string{"self-hosted", "Linux", "X64", "app"}}, r)
			reg, err := c.RegistrationToken(ctx)
			require.NoError(t, err)
			assert.NotEmpty(t, reg.Value)
			assert.WithinDuration(t, time.Now().Add(time.Hour), reg.ExpiresAt, time.Minute)
			rm, err := c.RemoveToken(ctx)
			require.NoError(t, err)
			assert.NotEmpty(t, rm.Value)
			assert.WithinDuration(t, time.Now().Add(time.Hour), rm.ExpiresAt, time.Minute)
			downloads, err := c.RunnerDownloads(ctx)
			require.NoError(t, err)
			assert.Len(t, downloads, len(srv.Downloads()))
			withFolder, err := c.GenerateJITConfig(ctx, github.JITRequest{Name: "jit-a", Labels: []string{"a", "b"}, WorkFolder: "w"})
			require.NoError(t, err)
			assert.Equal(t, []string{"self-hosted", "Linux", "X64", "a", "b"}, withFolder.Runner.Labels)
			_, err = c.GenerateJITConfig(ctx, github.JITRequest{Name: "jit-b", Labels: []string{"a"}})
			require.NoError(t, err)
			require.NoError(t, c.DeleteRunner(ctx, first.ID))
			_, ok := srv.Runner(first.ID)
			assert.False(t, ok, "the runner is gone")

			want := map[string]int{
				"GET " + scope.prefix + "/actions/runners":                     2,
				"GET " + scope.prefix + "/actions/runners/{runner_id}":         1,
				"POST " + scope.prefix + "/actions/runners/registration-token": 1,
				"POST " + scope.prefix + "/actions/runners/remove-token":       1,
				"GET " + scope.prefix + "/actions/runners/downloads":           1,
				"POST " + scope.prefix + "/actions/runners/generate-jitconfig": 2,
				"DELETE " + scope.prefix + "/actions/runners/{runner_id}":      1,
			}
			if scope.prefix == "/orgs/{org}" {
				want["GET /orgs/{org}/actions/runner-groups"] = 1
			}
			assert.Equal(t, want, c.RequestCounts())
			assert.Equal(t, want, srv.Counts())

			// What went out: full pages, and JIT bodies without an empty
			// work folder.
			var pages []string
			var jitBodies []map[string]any
			for _, ex := range srv.Exchanges() {
				switch ex.Endpoint {
				case "GET " + scope.prefix + "/actions/runners", "GET /orgs/{org}/actions/runner-groups":
					q, err := url.ParseQuery(ex.RawQuery)
					require.NoError(t, err)
					assert.Equal(t, "100", q.Get("per_page"), ex.Endpoint)
					if ex.Endpoint != "GET /orgs/{org}/actions/runner-groups" {
						pages = append(pages, q.Get("page"))
					}
				case "POST " + scope.prefix + "/actions/runners/generate-jitconfig":
					var body map[string]any
					require.NoError(t, json.Unmarshal(ex.RequestBody, &body))
					jitBodies = append(jitBodies, body)
				}
			}
			// The server records an exchange once its answer is written, so
			// the next request may be recorded first.
			sort.Strings(pages)
			sort.Slice(jitBodies, func(i, j int) bool { return fmt.Sprint(jitBodies[i]["name"]) < fmt.Sprint(jitBodies[j]["name"]) })
			assert.Equal(t, []string{"1", "2"}, pages)
			assert.Equal(t, []map[string]any{
				{"name": "jit-a", "runner_group_id": 1.0, "labels": []any{"a", "b"}, "work_folder": "w"},
				{"name": "jit-b", "runner_group_id": 1.0, "labels": []any{"a"}},
			}, jitBodies)
		})
	}
}

func TestErrorsNameTheirEndpoint(t *testing.T) {
	t.Parallel()
	for _, scope := range scopes {
		t.Run(scope.path, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, githubtest.Options{})
			ctx := testContext(t, 30*time.Second)
			r, err := srv.AddRunner(scope.path, githubtest.RunnerSeed{Name: "r"})
			require.NoError(t, err)
			c := newClient(t, srv, scope.path, adminToken)
			srv.InjectFault(githubtest.Fault{Status: http.StatusServiceUnavailable})
			for _, call := range callsOf(c, r.ID) {
				t.Run(call.name, func(t *testing.T) {
					before := c.RequestCounts()
					err := call.call(ctx)
					require.Error(t, err)
					assert.ErrorIs(t, err, github.ErrServer)
					var apiErr *github.APIError
					require.ErrorAs(t, err, &apiErr)
					assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
					assert.Contains(t, err.Error(), "cannot ")
					// The error names the endpoint the one request went to.
					after := c.RequestCounts()
					var sent []string
					for endpoint, n := range after {
						for range n - before[endpoint] {
							sent = append(sent, endpoint)
						}
					}
					assert.Equal(t, []string{apiErr.Endpoint}, sent)
				})
			}
		})
	}
}

// TestOddAnswers covers answers the simulator never gives, from a plain
// HTTP server.
func TestOddAnswers(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orgs/acme/actions/runners", func(w http.ResponseWriter, r *http.Request) {
		// Every page says the next one is page 1.
		w.Header().Set("Link", `<http://`+r.Host+`/orgs/acme/actions/runners?page=1&per_page=100>; rel="next"`)
		fmt.Fprint(w, `{"total_count":1,"runners":[{"id":1,"name":"a","os":"Linux","status":"online","busy":false,"labels":[]}]}`)
	})
	mux.HandleFunc("GET /orgs/acme/actions/runners/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"id":`)
	})
	mux.HandleFunc("GET /orgs/acme/actions/runners/downloads", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /orgs/acme/actions/runners/registration-token", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"expires_at":"2030-01-01T00:00:00Z"}`)
	})
	mux.HandleFunc("GET /orgs/acme/actions/runner-groups", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"total_count":1,"runner_groups":[{"id":1,"name":"Default"}]}`)
	})
	mux.HandleFunc("POST /orgs/acme/actions/runners/generate-jitconfig", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"runner":{"id":9,"name":"n"}}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := github.New(github.Config{Path: "acme", Token: adminToken, APIURL: srv.URL, Logger: testLogger(t)})
	require.NoError(t, err)
	ctx := testContext(t, 10*time.Second)
	var apiErr *github.APIError

	_, err = c.ListRunners(ctx, "")
	assert.ErrorContains(t, err, "cannot list runners of acme: page 1 links back to page 1")
	assert.Equal(t, 1, c.RequestCounts()["GET /orgs/{org}/actions/runners"])

	_, err = c.GetRunner(ctx, 7)
	require.Error(t, err)
	assert.ErrorContains(t, err, "cannot get runner 7 of acme")
	assert.False(t, errors.As(err, &apiErr), "a broken answer is not an API error: %v", err)

	_, err = c.RunnerDownloads(ctx)
	assert.ErrorIs(t, err, github.ErrUnexpectedStatus)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusAccepted, apiErr.StatusCode)
	assert.Equal(t, "GET /orgs/{org}/actions/runners/downloads", apiErr.Endpoint)

	_, err = c.RegistrationToken(ctx)
	assert.EqualError(t, err, "cannot create a registration token for acme: POST /orgs/{org}/actions/runners/registration-token: the answer holds no token")

	_, err = c.GenerateJITConfig(ctx, github.JITRequest{Name: "n", Labels: []string{"x"}})
	assert.EqualError(t, err, `cannot create JIT runner "n" in acme: POST /orgs/{org}/actions/runners/generate-jitconfig: the answer holds no configuration`)
}
