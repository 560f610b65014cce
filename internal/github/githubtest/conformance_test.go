package githubtest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

// TestConformance drives every endpoint the simulator serves, at
// organization, repository and enterprise scope and as a GitHub App,
// through success and failure, conditional requests included, and
// checks every answer against GitHub's description. (Every other test's
// answers are checked the same way when it ends, by newServer.)
func TestConformance(t *testing.T) {
	t.Parallel()
	srv := newUncheckedServer(t, githubtest.Options{})
	_, err := srv.AddRunnerGroup("acme", "ci")
	require.NoError(t, err)

	_, err = srv.AddRunnerGroup(entPath, "ci")
	require.NoError(t, err)

	for _, scope := range []struct{ prefix, path, token string }{
		{"orgs/acme", "acme", adminToken},
		{"repos/acme/website", "acme/website", adminToken},
		{entPath, entPath, entToken},
	} {
		prefix, path, adminToken := scope.prefix, scope.path, scope.token
		busy, err := srv.AddRunner(path, githubtest.RunnerSeed{Name: "busy", Online: true, Busy: true, Labels: []string{"gpu"}})
		require.NoError(t, err)
		for i := range 5 {
			_, err := srv.AddRunner(path, githubtest.RunnerSeed{Name: fmt.Sprintf("idle-%d", i), Online: i%2 == 0})
			require.NoError(t, err)
		}
		j := jit(t, srv, prefix, "jit", "a", "b")
		runner := fmt.Sprintf("%s/actions/runners/%d", prefix, j.Runner.ID)
		requests := []struct {
			method, path, token string
			body                any
		}{
			{"GET", prefix + "/actions/runners", adminToken, nil},
			{"GET", prefix + "/actions/runners?per_page=2&page=2", adminToken, nil},
			{"GET", prefix + "/actions/runners?name=jit", adminToken, nil},
			{"GET", runner, adminToken, nil},
			{"GET", prefix + "/actions/runners/999999", adminToken, nil},
			{"GET", prefix + "/actions/runners/downloads", adminToken, nil},
			{"POST", prefix + "/actions/runners/registration-token", adminToken, nil},
			{"POST", prefix + "/actions/runners/remove-token", adminToken, nil},
			{"POST", prefix + "/actions/runners/generate-jitconfig", adminToken, map[string]any{"name": "jit", "runner_group_id": 1, "labels": []string{"a"}}},
			{"POST", prefix + "/actions/runners/generate-jitconfig", adminToken, map[string]any{"name": "x", "runner_group_id": 1, "labels": []string{}}},
			{"POST", prefix + "/actions/runners/generate-jitconfig", adminToken, map[string]any{"name": "x", "runner_group_id": 1, "labels": []string{"a"}, "work_folder": "w"}},
			{"POST", prefix + "/actions/runners/generate-jitconfig", adminToken, `{"name":`},
			{"GET", runner + "/labels", adminToken, nil},
			{"POST", runner + "/labels", adminToken, map[string]any{"labels": []string{"c"}}},
			{"POST", runner + "/labels", adminToken, map[string]any{"labels": []string{}}},
			{"PUT", runner + "/labels", adminToken, map[string]any{"labels": []string{"d", "e"}}},
			{"DELETE", runner + "/labels/d", adminToken, nil},
			{"DELETE", runner + "/labels/nothing", adminToken, nil},
			{"DELETE", runner + "/labels/self-hosted", adminToken, nil},
			{"DELETE", runner + "/labels", adminToken, nil},
			{"DELETE", fmt.Sprintf("%s/actions/runners/%d", prefix, busy.ID), adminToken, nil},
			{"DELETE", runner, adminToken, nil},
			{"DELETE", runner, adminToken, nil},
			{"GET", prefix + "/actions/runners", "", nil},
			{"GET", prefix + "/actions/runners", "ghp_nobody", nil},
			{"GET", prefix + "/actions/runners", noneToken, nil},
		}
		for _, r := range requests {
			call(t, srv, r.method, r.path, r.token, r.body)
		}
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "orgs/acme/actions/runner-groups"},
		{"GET", "orgs/acme/actions/runner-groups?per_page=1&page=2"},
		{"GET", "orgs/acme/actions/runner-groups/1"},
		{"GET", "orgs/acme/actions/runner-groups/77"},
		{"GET", "orgs/nobody/actions/runners"},
		{"GET", "rate_limit"},
		{"GET", "orgs/acme/actions/unknown"},
		{"GET", entPath + "/actions/runner-groups"},
		{"GET", entPath + "/actions/runner-groups/1"},
		{"GET", entPath + "/actions/runner-groups/77"},
		{"GET", "enterprises/nobody/actions/runners"},
	} {
		token := adminToken
		if strings.HasPrefix(r.path, "enterprises/") {
			token = entToken
		}
		call(t, srv, r.method, r.path, token, nil)
	}
	app := addApp(t, srv, githubtest.AppSeed{})
	inst := addInstallation(t, srv, app.ID, githubtest.InstallationSeed{Account: "acme"})
	appJWT, err := app.JWT(srv.Now())
	require.NoError(t, err)
	for _, r := range []struct{ method, path, token string }{
		{"GET", "app", appJWT},
		{"GET", "app/installations", appJWT},
		{"GET", fmt.Sprintf("app/installations/%d", inst.ID), appJWT},
		{"GET", "app/installations/1", appJWT},
		{"GET", "orgs/acme/installation", appJWT},
		{"GET", "repos/acme/website/installation", appJWT},
		{"GET", "orgs/nobody/installation", appJWT},
		{"POST", fmt.Sprintf("app/installations/%d/access_tokens", inst.ID), appJWT},
		{"POST", fmt.Sprintf("app/installations/%d/access_tokens", inst.ID), adminToken},
		{"GET", "orgs/acme/actions/runners", appJWT},
	} {
		call(t, srv, r.method, r.path, r.token, nil)
	}
	itok, err := srv.CreateInstallationToken(inst.ID)
	require.NoError(t, err)
	call(t, srv, "GET", "orgs/acme/actions/runners", itok.Token, nil)
	call(t, srv, "GET", entPath+"/actions/runners", itok.Token, nil)

	for _, p := range []struct{ path, token string }{
		{"orgs/acme/actions/runners", adminToken},
		{"repos/acme/website/actions/runners?per_page=2", adminToken},
		{entPath + "/actions/runners", entToken},
		{"rate_limit", adminToken},
	} {
		a := call(t, srv, "GET", p.path, p.token, nil)
		require.Equal(t, http.StatusNotModified, ifNoneMatch(t, srv, p.path, p.token, a.Header.Get("ETag")).Status, p.path)
	}
	srv.InjectFault(githubtest.Fault{Path: "/orgs/{org}/actions/runners", Status: 502, Count: 1})
	srv.InjectFault(githubtest.Fault{Path: "/repos/{owner}/{repo}/actions/runners", SecondaryLimit: true, Count: 1})
	call(t, srv, "GET", "orgs/acme/actions/runners", adminToken, nil)
	call(t, srv, "GET", "repos/acme/website/actions/runners", adminToken, nil)
	srv.SetRateRemaining(adminToken, 0)
	call(t, srv, "GET", "orgs/acme/actions/runners", adminToken, nil)
	call(t, srv, "GET", "rate_limit", adminToken, nil)

	exchanges := srv.Exchanges()
	statuses := map[int]bool{}
	for _, ex := range exchanges {
		statuses[ex.Status] = true
	}
	for _, want := range []int{200, 201, 204, 304, 400, 401, 403, 404, 409, 422, 502} {
		assert.True(t, statuses[want], "no %d answer was exercised", want)
	}
	require.Greater(t, len(exchanges), 90)
	for _, err := range validator(t).CheckAll(exchanges) {
		t.Error(err)
	}
}

// TestConformanceCatchesBrokenShapes shows the check is not vacuous: answers
// of a wrong shape, sent through fault injection, fail it.
func TestConformanceCatchesBrokenShapes(t *testing.T) {
	t.Parallel()
	srv := newUncheckedServer(t, githubtest.Options{})
	r, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: "r"})
	require.NoError(t, err)

	tests := []struct {
		name   string
		fault  githubtest.Fault
		method string
		path   string
		body   any
		want   string
	}{
		{
			name:  "total_count as a string",
			fault: githubtest.Fault{Path: "/orgs/{org}/actions/runners", Status: 200, Body: `{"total_count":"1","runners":[]}`},
			path:  "orgs/acme/actions/runners",
			want:  "total_count",
		},
		{
			name: "runner without id",
			fault: githubtest.Fault{Path: "/orgs/{org}/actions/runners/{runner_id}", Status: 200,
				Body: `{"name":"r","os":"Linux","status":"online","busy":false,"labels":[]}`},
			path: fmt.Sprintf("orgs/acme/actions/runners/%d", r.ID),
			want: `"id"`,
		},
		{
			name:  "token without expiry",
			fault: githubtest.Fault{Path: "/orgs/{org}/actions/runners/registration-token", Status: 201, Body: `{"token":"T"}`},
			path:  "orgs/acme/actions/runners/registration-token", method: "POST",
			want: "expires_at",
		},
		{
			name:  "busy delete without documentation_url",
			fault: githubtest.Fault{Path: "/orgs/{org}/actions/runners/{runner_id}", Method: "DELETE", Status: 422, Body: `{"message":"busy"}`},
			path:  fmt.Sprintf("orgs/acme/actions/runners/%d", r.ID), method: "DELETE",
			want: "documentation_url",
		},
		{
			name:  "an error that is not JSON",
			fault: githubtest.Fault{Path: "/orgs/{org}/actions/runners", Status: 500, Body: `<html>oops</html>`},
			path:  "orgs/acme/actions/runners",
			want:  "not JSON",
		},
		{
			name:  "an undeclared success status",
			fault: githubtest.Fault{Path: "/orgs/{org}/actions/runners", Status: 202, Body: `{}`},
			path:  "orgs/acme/actions/runners",
			want:  "status 202 is not declared",
		},
		{
			name:  "an undescribed endpoint's error that is not JSON",
			fault: githubtest.Fault{Path: "/enterprises/{enterprise}/actions/runner-groups", Status: 500, Body: `<html>oops</html>`},
			path:  entPath + "/actions/runner-groups",
			want:  "not JSON",
		},
		{
			name:  "downloads as an object",
			fault: githubtest.Fault{Path: "/orgs/{org}/actions/runners/downloads", Status: 200, Body: `{"os":"linux"}`},
			path:  "orgs/acme/actions/runners/downloads",
			want:  "downloads",
		},
	}
	v := validator(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remove := srv.InjectFault(tt.fault)
			defer remove()
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			token := adminToken
			if strings.HasPrefix(tt.path, "enterprises/") {
				token = entToken
			}
			before := len(srv.Exchanges())
			call(t, srv, method, tt.path, token, tt.body)
			exs := srv.Exchanges()
			require.Len(t, exs, before+1)
			err := v.Check(exs[len(exs)-1])
			require.Error(t, err, "a broken answer passed the conformance check")
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	t.Run("missing rate-limit headers", func(t *testing.T) {
		ex := srv.Exchanges()[0]
		ex.ResponseHeader = ex.ResponseHeader.Clone()
		ex.ResponseHeader.Del("X-RateLimit-Remaining")
		ex.ResponseHeader.Set("X-RateLimit-Reset", "soon")
		err := v.Check(ex)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no X-RateLimit-Remaining header")
		assert.Contains(t, err.Error(), `X-RateLimit-Reset "soon" is not an integer`)
	})
	t.Run("conditional answers", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, "orgs/acme/actions/runners", adminToken, nil)
		require.Equal(t, http.StatusNotModified, ifNoneMatch(t, srv, "orgs/acme/actions/runners", adminToken, a.Header.Get("ETag")).Status)
		exs := srv.Exchanges()
		good, notModified := exs[len(exs)-2], exs[len(exs)-1]
		require.NoError(t, v.Check(good))
		require.NoError(t, v.Check(notModified))

		noETag := good
		noETag.ResponseHeader = good.ResponseHeader.Clone()
		noETag.ResponseHeader.Del("ETag")
		assert.ErrorContains(t, v.Check(noETag), "carries no ETag")

		withBody := notModified
		withBody.ResponseBody = []byte(`{}`)
		assert.ErrorContains(t, v.Check(withBody), "304 with a body")

		otherTag := notModified
		otherTag.RequestHeader = notModified.RequestHeader.Clone()
		otherTag.RequestHeader.Set("If-None-Match", `W/"something-else"`)
		assert.ErrorContains(t, v.Check(otherTag), "does not name")

		unasked := notModified
		unasked.RequestHeader = notModified.RequestHeader.Clone()
		unasked.RequestHeader.Del("If-None-Match")
		assert.ErrorContains(t, v.Check(unasked), "without If-None-Match")
	})
	t.Run("malformed Link", func(t *testing.T) {
		ex := srv.Exchanges()[0]
		ex.ResponseHeader = ex.ResponseHeader.Clone()
		ex.ResponseHeader.Set("Link", `<http://x/orgs/acme/actions/runners?page=2>; rel="next"`)
		err := v.Check(ex)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "lacks page or per_page")
	})
	t.Run("an accepted request that GitHub would refuse", func(t *testing.T) {
		ex := githubtest.Exchange{}
		for _, e := range srv.Exchanges() {
			if e.Status == 201 && e.Method == "POST" {
				ex = e
			}
		}
		require.NotZero(t, ex.Status)
		ex.Path = "/orgs/acme/actions/runners/generate-jitconfig"
		ex.RequestBody = []byte(`{"name":"n","runner_group_id":1,"labels":[]}`)
		ex.RequestHeader = http.Header{"Content-Type": {"application/json"}}
		err := v.Check(ex)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "accepted a request")
	})
}
