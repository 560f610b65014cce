package githubtest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

type runnersPage struct {
	TotalCount int `json:"total_count"`
	Runners    []struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
		Busy   bool   `json:"busy"`
	} `json:"runners"`
}

var linkRe = regexp.MustCompile(`<([^>]+)>; rel="(\w+)"`)

// links parses a Link header into rel -> page number.
func links(t *testing.T, h string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range linkRe.FindAllStringSubmatch(h, -1) {
		u, err := url.Parse(m[1])
		require.NoError(t, err)
		page, err := strconv.Atoi(u.Query().Get("page"))
		require.NoError(t, err)
		out[m[2]] = page
		assert.Equal(t, "100", u.Query().Get("per_page"), "per_page kept in %s", m[1])
	}
	return out
}

func TestListRunnersPaginates(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	for i := range 250 {
		_, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: fmt.Sprintf("r-%03d", i), Online: i%2 == 0})
		require.NoError(t, err)
	}
	tests := []struct {
		page      int
		wantCount int
		wantLinks map[string]int
	}{
		{1, 100, map[string]int{"next": 2, "last": 3}},
		{2, 100, map[string]int{"prev": 1, "next": 3, "last": 3, "first": 1}},
		{3, 50, map[string]int{"prev": 2, "first": 1}},
		{4, 0, map[string]int{"prev": 3, "first": 1}},
	}
	seen := map[int64]bool{}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("page %d", tt.page), func(t *testing.T) {
			a := call(t, srv, http.MethodGet, fmt.Sprintf("orgs/acme/actions/runners?per_page=100&page=%d", tt.page), adminToken, nil)
			require.Equal(t, http.StatusOK, a.Status)
			var p runnersPage
			a.json(t, &p)
			assert.Equal(t, 250, p.TotalCount)
			assert.Len(t, p.Runners, tt.wantCount)
			assert.Equal(t, tt.wantLinks, links(t, a.Header.Get("Link")))
			for _, r := range p.Runners {
				assert.False(t, seen[r.ID], "runner %d on two pages", r.ID)
				seen[r.ID] = true
			}
		})
	}
	assert.Len(t, seen, 250)

	t.Run("default page size is 30", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, "orgs/acme/actions/runners", adminToken, nil)
		var p runnersPage
		a.json(t, &p)
		assert.Len(t, p.Runners, 30)
		assert.Contains(t, a.Header.Get("Link"), "per_page=30&page=9>; rel=\"last\"")
	})
	t.Run("per_page is capped at 100", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, "orgs/acme/actions/runners?per_page=500", adminToken, nil)
		var p runnersPage
		a.json(t, &p)
		assert.Len(t, p.Runners, 100)
	})
	t.Run("name is an exact filter and total_count counts matches", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, "orgs/acme/actions/runners?name=r-042", adminToken, nil)
		var p runnersPage
		a.json(t, &p)
		require.Len(t, p.Runners, 1)
		assert.Equal(t, 1, p.TotalCount)
		assert.Equal(t, "r-042", p.Runners[0].Name)
		assert.Empty(t, a.Header.Get("Link"))
		assert.Contains(t, string(a.Body), `"total_count":1,`, "total_count is an integer")
	})
	t.Run("repositories keep their own runners", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, "repos/acme/website/actions/runners", adminToken, nil)
		var p runnersPage
		a.json(t, &p)
		assert.Equal(t, 0, p.TotalCount)
		assert.NotNil(t, p.Runners)
	})
}

func TestAuthenticationAndScopes(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	tests := []struct {
		name, path, token string
		want              int
		wantMessage       string
	}{
		{"no token", "orgs/acme/actions/runners", "", 401, "Requires authentication"},
		{"unknown token", "orgs/acme/actions/runners", "ghp_nobody", 401, "Bad credentials"},
		{"org without admin:org", "orgs/acme/actions/runners", repoToken, 403, "You must be an org admin or have the admin:org scope to use this endpoint."},
		{"repo without repo", "repos/acme/website/actions/runners", noneToken, 403, "Must have admin rights to Repository."},
		{"repo with repo", "repos/acme/website/actions/runners", repoToken, 200, ""},
		{"unknown org", "orgs/nobody/actions/runners", adminToken, 404, "Not Found"},
		{"unknown repo", "repos/acme/nothing/actions/runners", adminToken, 404, "Not Found"},
		{"unknown path", "orgs/acme/actions/nothing", adminToken, 404, "Not Found"},
		{"non-numeric runner", "orgs/acme/actions/runners/abc", adminToken, 404, "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, srv, http.MethodGet, tt.path, tt.token, nil)
			require.Equal(t, tt.want, a.Status, "%s", a.Body)
			if tt.wantMessage != "" {
				assert.Equal(t, tt.wantMessage, a.message(t))
			}
			assert.NotEmpty(t, a.Header.Get("X-RateLimit-Remaining"), "rate headers on every answer")
		})
	}
	t.Run("answers without valid credentials spend the anonymous budget", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, "orgs/acme/actions/runners", "ghp_nobody", nil)
		assert.Equal(t, strconv.Itoa(githubtest.DefaultAnonymousRateLimit), a.Header.Get("X-RateLimit-Limit"))
	})
	t.Run("a revoked token is bad credentials", func(t *testing.T) {
		srv.AddToken("ghp_temp", githubtest.ScopeAdminOrg)
		require.Equal(t, 200, call(t, srv, http.MethodGet, "orgs/acme/actions/runners", "ghp_temp", nil).Status)
		srv.RevokeToken("ghp_temp")
		require.Equal(t, 401, call(t, srv, http.MethodGet, "orgs/acme/actions/runners", "ghp_temp", nil).Status)
	})
	t.Run("the token scheme works too", func(t *testing.T) {
		req, err := http.NewRequestWithContext(testContext(t, 10*time.Second), http.MethodGet, srv.URL()+"orgs/acme/actions/runners", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "token "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

func TestRateLimitBudget(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := githubtest.NewFakeClock(start)
	srv := newServer(t, githubtest.Options{Clock: clock, RateLimit: 3, RateWindow: time.Hour})
	get := func() answer { return call(t, srv, http.MethodGet, "orgs/acme/actions/runners", adminToken, nil) }

	for i := 1; i <= 3; i++ {
		a := get()
		require.Equal(t, http.StatusOK, a.Status)
		assert.Equal(t, "3", a.Header.Get("X-RateLimit-Limit"))
		assert.Equal(t, strconv.Itoa(3-i), a.Header.Get("X-RateLimit-Remaining"))
		assert.Equal(t, strconv.Itoa(i), a.Header.Get("X-RateLimit-Used"))
		assert.Equal(t, strconv.FormatInt(start.Add(time.Hour).Unix(), 10), a.Header.Get("X-RateLimit-Reset"))
		assert.Equal(t, "core", a.Header.Get("X-RateLimit-Resource"))
	}
	a := get()
	require.Equal(t, http.StatusForbidden, a.Status)
	assert.Equal(t, "0", a.Header.Get("X-RateLimit-Remaining"))
	assert.Contains(t, a.message(t), "API rate limit exceeded for user ID")

	t.Run("rate_limit answers without charging", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, "rate_limit", adminToken, nil)
		require.Equal(t, http.StatusOK, a.Status)
		var body struct {
			Resources map[string]struct{ Limit, Remaining, Used int } `json:"resources"`
			Rate      struct{ Limit, Remaining, Used int }            `json:"rate"`
		}
		a.json(t, &body)
		assert.Equal(t, 0, body.Rate.Remaining)
		assert.Equal(t, 3, body.Resources["core"].Used)
		assert.Contains(t, body.Resources, "actions_runner_registration")
	})

	clock.Advance(time.Hour)
	a = get()
	require.Equal(t, http.StatusOK, a.Status, "the budget refills at the reset")
	assert.Equal(t, "2", a.Header.Get("X-RateLimit-Remaining"))

	srv.SetRateRemaining(adminToken, 0)
	assert.Equal(t, http.StatusForbidden, get().Status)
	assert.Equal(t, 0, srv.RateLimit(adminToken).Remaining)
	assert.Equal(t, 3, srv.RateLimit(repoToken).Remaining, "budgets are per token")
}

func TestRateLimitAs429(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{PrimaryLimitStatus: http.StatusTooManyRequests})
	srv.SetRateRemaining(adminToken, 0)
	a := call(t, srv, http.MethodGet, "orgs/acme/actions/runners", adminToken, nil)
	assert.Equal(t, http.StatusTooManyRequests, a.Status)
	assert.Equal(t, "0", a.Header.Get("X-RateLimit-Remaining"))
}

func TestFaults(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{Seed: 7})
	const list = "/orgs/{org}/actions/runners"
	get := func() answer { return call(t, srv, http.MethodGet, "orgs/acme/actions/runners", adminToken, nil) }

	t.Run("status for a count", func(t *testing.T) {
		srv.InjectFault(githubtest.Fault{Method: "GET", Path: list, Status: 502, Count: 2})
		assert.Equal(t, 502, get().Status)
		assert.Equal(t, 502, get().Status)
		assert.Equal(t, 200, get().Status)
	})
	t.Run("pattern on the request path", func(t *testing.T) {
		remove := srv.InjectFault(githubtest.Fault{Path: "/repos/acme/*/actions/runners", Status: 503})
		assert.Equal(t, 503, call(t, srv, http.MethodGet, "repos/acme/website/actions/runners", adminToken, nil).Status)
		assert.Equal(t, 200, get().Status)
		remove()
		assert.Equal(t, 200, call(t, srv, http.MethodGet, "repos/acme/website/actions/runners", adminToken, nil).Status)
	})
	t.Run("secondary limit", func(t *testing.T) {
		srv.InjectFault(githubtest.Fault{Path: list, SecondaryLimit: true, Status: 429, RetryAfter: 30 * time.Second, Count: 1})
		a := get()
		assert.Equal(t, 429, a.Status)
		assert.Equal(t, "30", a.Header.Get("Retry-After"))
		assert.Contains(t, a.message(t), "secondary rate limit")
		var body struct {
			DocumentationURL string `json:"documentation_url"`
		}
		a.json(t, &body)
		assert.True(t, strings.HasSuffix(body.DocumentationURL, "secondary-rate-limits"))
	})
	t.Run("rate is seeded", func(t *testing.T) {
		pattern := func() string {
			s := newUncheckedServer(t, githubtest.Options{Seed: 42})
			s.InjectFault(githubtest.Fault{Path: list, Status: 500, Rate: 0.5})
			var b strings.Builder
			for range 20 {
				fmt.Fprintf(&b, "%d ", call(t, s, http.MethodGet, "orgs/acme/actions/runners", adminToken, nil).Status)
			}
			return b.String()
		}
		first := pattern()
		assert.Equal(t, first, pattern(), "the same seed gives the same faults")
		assert.Contains(t, first, "500")
		assert.Contains(t, first, "200")
	})
	t.Run("latency", func(t *testing.T) {
		srv.InjectFault(githubtest.Fault{Path: list, Latency: 2 * time.Second, Count: 1})
		client := &http.Client{Timeout: 100 * time.Millisecond}
		req, err := http.NewRequest(http.MethodGet, srv.URL()+"orgs/acme/actions/runners", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		_, err = client.Do(req)
		require.Error(t, err)
		var ne interface{ Timeout() bool }
		require.ErrorAs(t, err, &ne)
		assert.True(t, ne.Timeout())
	})
	t.Run("drop", func(t *testing.T) {
		srv.InjectFault(githubtest.Fault{Path: list, Drop: true, Count: 1})
		req, err := http.NewRequest(http.MethodGet, srv.URL()+"orgs/acme/actions/runners", nil)
		require.NoError(t, err)
		_, err = http.DefaultClient.Do(req)
		require.Error(t, err)
		assert.Equal(t, 200, get().Status)
	})
	t.Run("counted and logged", func(t *testing.T) {
		before := srv.Count("GET " + list)
		srv.InjectFault(githubtest.Fault{Path: list, Status: 500, Count: 1})
		get()
		assert.Equal(t, before+1, srv.Count("GET "+list))
		log := srv.Requests()
		last := log[len(log)-1]
		assert.Equal(t, 500, last.Status)
		assert.True(t, last.Fault)
		assert.Equal(t, "GET "+list, last.Endpoint)
	})
}

func TestDeleteRunner(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	busy, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: "busy-one", Online: true, Busy: true})
	require.NoError(t, err)
	idle, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: "idle-one", Online: true})
	require.NoError(t, err)
	other, err := srv.AddRunner("acme/website", githubtest.RunnerSeed{Name: "elsewhere"})
	require.NoError(t, err)

	a := call(t, srv, http.MethodDelete, fmt.Sprintf("orgs/acme/actions/runners/%d", busy.ID), adminToken, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, a.Status)
	assert.Equal(t, `Bad request - Runner "busy-one" is still running a job`, a.message(t))

	a = call(t, srv, http.MethodDelete, fmt.Sprintf("orgs/acme/actions/runners/%d", idle.ID), adminToken, nil)
	assert.Equal(t, http.StatusNoContent, a.Status)
	assert.Empty(t, a.Body)
	_, ok := srv.Runner(idle.ID)
	assert.False(t, ok)

	a = call(t, srv, http.MethodDelete, fmt.Sprintf("orgs/acme/actions/runners/%d", idle.ID), adminToken, nil)
	assert.Equal(t, http.StatusNotFound, a.Status)
	a = call(t, srv, http.MethodGet, fmt.Sprintf("orgs/acme/actions/runners/%d", other.ID), adminToken, nil)
	assert.Equal(t, http.StatusNotFound, a.Status, "a runner of another scope is not found")
}

func TestGenerateJITConfig(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ci, err := srv.AddRunnerGroup("acme", "ci")
	require.NoError(t, err)

	got := jit(t, srv, "orgs/acme", "jit-1", "custom-a", "self-hosted")
	r := got.Runner
	assert.Equal(t, "jit-1", r.Name)
	assert.Equal(t, "offline", r.Status)
	assert.Equal(t, "unknown", r.OS)
	assert.False(t, r.Busy)
	assert.True(t, r.Ephemeral)
	var names, types []string
	for _, l := range r.Labels {
		names = append(names, l.Name)
		types = append(types, l.Type)
	}
	assert.Equal(t, []string{"self-hosted", "Linux", "X64", "custom-a"}, names)
	assert.Equal(t, []string{"read-only", "read-only", "read-only", "custom"}, types)

	info, err := githubtest.ParseJITConfig(got.EncodedJITConfig)
	require.NoError(t, err)
	assert.Equal(t, r.ID, info.RunnerID)
	assert.Equal(t, srv.URL(), info.RunnerURL)
	assert.Equal(t, srv.URL()+"acme", info.GitHubURL)
	assert.Equal(t, "_work", info.WorkFolder)

	listed, ok := srv.RunnerByName("acme", "jit-1")
	require.True(t, ok, "the runner exists at once")
	assert.Equal(t, r.ID, listed.ID)

	a := call(t, srv, http.MethodPost, "orgs/acme/actions/runners/generate-jitconfig", adminToken,
		map[string]any{"name": "in-ci", "runner_group_id": ci, "labels": []string{"x"}, "work_folder": "w"})
	require.Equal(t, http.StatusCreated, a.Status)
	var inCI jitAnswer
	a.json(t, &inCI)
	assert.Equal(t, ci, inCI.Runner.GroupID)

	tests := []struct {
		name   string
		prefix string
		body   any
		want   int
		msg    string
	}{
		{"name clash", "orgs/acme", map[string]any{"name": "jit-1", "runner_group_id": 1, "labels": []string{"a"}}, 409, "Already exists"},
		{"name clash ignores case", "orgs/acme", map[string]any{"name": "JIT-1", "runner_group_id": 1, "labels": []string{"a"}}, 409, "Already exists"},
		{"missing name", "orgs/acme", map[string]any{"runner_group_id": 1, "labels": []string{"a"}}, 422, `"name" wasn't supplied`},
		{"missing group", "orgs/acme", map[string]any{"name": "n", "labels": []string{"a"}}, 422, `"runner_group_id" wasn't supplied`},
		{"no labels", "orgs/acme", map[string]any{"name": "n", "runner_group_id": 1, "labels": []string{}}, 422, "at least 1 item"},
		{"too many labels", "orgs/acme", map[string]any{"name": "n", "runner_group_id": 1, "labels": make([]string, 101)}, 422, "more than 100"},
		{"unknown group", "orgs/acme", map[string]any{"name": "n", "runner_group_id": 999, "labels": []string{"a"}}, 422, "Runner group 999 not found"},
		{"repository runners are in group 1 only", "repos/acme/website", map[string]any{"name": "n", "runner_group_id": ci, "labels": []string{"a"}}, 422, "not found"},
		{"labels of the wrong type", "orgs/acme", `{"name":"n","runner_group_id":1,"labels":"a"}`, 422, "Invalid request"},
		{"not JSON", "orgs/acme", `{"name":`, 400, "Problems parsing JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, srv, http.MethodPost, tt.prefix+"/actions/runners/generate-jitconfig", adminToken, tt.body)
			require.Equal(t, tt.want, a.Status, "%s", a.Body)
			assert.Contains(t, a.message(t), tt.msg)
		})
	}
	t.Run("repository scope", func(t *testing.T) {
		got := jit(t, srv, "repos/acme/website", "jit-1", "x")
		assert.EqualValues(t, 1, got.Runner.GroupID)
	})
	t.Run("arm64 machines", func(t *testing.T) {
		arm := newServer(t, githubtest.Options{RunnerArch: "ARM64"})
		got := jit(t, arm, "orgs/acme", "arm", "x")
		assert.Equal(t, "ARM64", got.Runner.Labels[2].Name)
	})
}

func TestRunnerTokens(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	for _, kind := range []string{"registration-token", "remove-token"} {
		for _, prefix := range []string{"orgs/acme", "repos/acme/website"} {
			t.Run(prefix+" "+kind, func(t *testing.T) {
				a := call(t, srv, http.MethodPost, prefix+"/actions/runners/"+kind, adminToken, nil)
				require.Equal(t, http.StatusCreated, a.Status)
				var tok struct {
					Token     string `json:"token"`
					ExpiresAt string `json:"expires_at"`
				}
				a.json(t, &tok)
				assert.Regexp(t, `^[A-Z2-7]{29}$`, tok.Token)
				exp, err := time.Parse(time.RFC3339, tok.ExpiresAt)
				require.NoError(t, err)
				assert.Regexp(t, `\.\d{3}-08:00$`, tok.ExpiresAt)
				assert.WithinDuration(t, time.Now().Add(time.Hour), exp, time.Minute)
			})
		}
	}
}

func TestRunnerLabels(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	for _, prefix := range []string{"orgs/acme", "repos/acme/website"} {
		t.Run(prefix, func(t *testing.T) {
			path := strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(prefix, "orgs/"), "repos/"), "/", 2)
			r, err := srv.AddRunner(strings.Join(path, "/"), githubtest.RunnerSeed{Name: "labelled", Labels: []string{"one"}})
			require.NoError(t, err)
			base := fmt.Sprintf("%s/actions/runners/%d/labels", prefix, r.ID)
			names := func(a answer) []string {
				t.Helper()
				require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
				var body struct {
					TotalCount int `json:"total_count"`
					Labels     []struct {
						Name string `json:"name"`
					} `json:"labels"`
				}
				a.json(t, &body)
				var out []string
				for _, l := range body.Labels {
					out = append(out, l.Name)
				}
				assert.Equal(t, len(out), body.TotalCount)
				return out
			}
			assert.Equal(t, []string{"self-hosted", "Linux", "X64", "one"}, names(call(t, srv, "GET", base, adminToken, nil)))
			assert.Equal(t, []string{"self-hosted", "Linux", "X64", "one", "two"},
				names(call(t, srv, "POST", base, adminToken, map[string]any{"labels": []string{"two", "ONE"}})))
			assert.Equal(t, []string{"self-hosted", "Linux", "X64", "three"},
				names(call(t, srv, "PUT", base, adminToken, map[string]any{"labels": []string{"three"}})))
			assert.Equal(t, []string{"self-hosted", "Linux", "X64"}, names(call(t, srv, "DELETE", base+"/three", adminToken, nil)))
			assert.Equal(t, 404, call(t, srv, "DELETE", base+"/three", adminToken, nil).Status)
			assert.Equal(t, 422, call(t, srv, "DELETE", base+"/X64", adminToken, nil).Status)
			assert.Equal(t, 422, call(t, srv, "POST", base, adminToken, map[string]any{"labels": []string{}}).Status)
			names(call(t, srv, "PUT", base, adminToken, map[string]any{"labels": []string{"four"}}))
			assert.Equal(t, []string{"self-hosted", "Linux", "X64"}, names(call(t, srv, "DELETE", base, adminToken, nil)))
			assert.Equal(t, 404, call(t, srv, "GET", fmt.Sprintf("%s/actions/runners/%d/labels", prefix, r.ID+1000), adminToken, nil).Status)
		})
	}
}

func TestRunnerGroups(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	for i := range 3 {
		_, err := srv.AddRunnerGroup("acme", fmt.Sprintf("group-%d", i))
		require.NoError(t, err)
	}
	a := call(t, srv, http.MethodGet, "orgs/acme/actions/runner-groups?per_page=2&page=1", adminToken, nil)
	require.Equal(t, http.StatusOK, a.Status)
	var body struct {
		TotalCount int `json:"total_count"`
		Groups     []struct {
			ID      int64  `json:"id"`
			Name    string `json:"name"`
			Default bool   `json:"default"`
		} `json:"runner_groups"`
	}
	a.json(t, &body)
	assert.Equal(t, 4, body.TotalCount)
	require.Len(t, body.Groups, 2)
	assert.EqualValues(t, 1, body.Groups[0].ID)
	assert.Equal(t, githubtest.DefaultGroupName, body.Groups[0].Name)
	assert.True(t, body.Groups[0].Default)
	assert.Contains(t, a.Header.Get("Link"), `rel="next"`)

	a = call(t, srv, http.MethodGet, fmt.Sprintf("orgs/acme/actions/runner-groups/%d", body.Groups[1].ID), adminToken, nil)
	assert.Equal(t, http.StatusOK, a.Status)
	assert.Equal(t, 404, call(t, srv, http.MethodGet, "orgs/acme/actions/runner-groups/999", adminToken, nil).Status)
	assert.Equal(t, 404, call(t, srv, http.MethodGet, "repos/acme/website/actions/runner-groups", adminToken, nil).Status)
}
