package githubtest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

func TestConditionalRequests(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	const list = "orgs/acme/actions/runners"

	first := call(t, srv, http.MethodGet, list, adminToken, nil)
	require.Equal(t, http.StatusOK, first.Status)
	etag := first.Header.Get("ETag")
	assert.Regexp(t, `^W/"[0-9a-f]{64}"$`, etag)
	assert.Equal(t, etag, call(t, srv, http.MethodGet, list, adminToken, nil).Header.Get("ETag"), "the same answer, the same ETag")

	before := srv.RateLimit(adminToken)
	for _, inm := range []string{etag, strings.TrimPrefix(etag, "W/"), `W/"other", ` + etag, "*"} {
		t.Run("If-None-Match: "+inm, func(t *testing.T) {
			a := ifNoneMatch(t, srv, list, adminToken, inm)
			require.Equal(t, http.StatusNotModified, a.Status)
			assert.Empty(t, a.Body)
			assert.Equal(t, etag, a.Header.Get("ETag"))
			assert.Equal(t, fmt.Sprint(before.Remaining), a.Header.Get("X-RateLimit-Remaining"), "a 304 costs nothing")
			assert.Equal(t, fmt.Sprint(before.Used), a.Header.Get("X-RateLimit-Used"))
			assert.NotEmpty(t, a.Header.Get("X-RateLimit-Reset"))
		})
	}
	assert.Equal(t, before, srv.RateLimit(adminToken))
	assert.Equal(t, http.StatusOK, ifNoneMatch(t, srv, list, adminToken, `W/"stale"`).Status)

	stats := srv.Stats()["GET /orgs/{org}/actions/runners"]
	assert.Equal(t, 7, stats.Requests)
	assert.Equal(t, 4, stats.NotModified)
	assert.Equal(t, 3, stats.RatePoints, "the 200s, not the 304s")
	var notModified, points int
	for _, r := range srv.Requests() {
		if r.NotModified() {
			notModified++
			assert.Zero(t, r.RatePoints)
		}
		points += r.RatePoints
	}
	assert.Equal(t, 4, notModified)
	assert.Equal(t, 3, points)
	assert.Equal(t, githubtest.EndpointStats{Requests: 7, NotModified: 4, RatePoints: 3}, srv.RESTStats())

	t.Run("304s go on when a single point is left", func(t *testing.T) {
		srv.SetRateRemaining(adminToken, 1)
		for range 3 {
			a := ifNoneMatch(t, srv, list, adminToken, etag)
			require.Equal(t, http.StatusNotModified, a.Status)
			assert.Equal(t, "1", a.Header.Get("X-RateLimit-Remaining"))
		}
		srv.SetRateRemaining(adminToken, 0)
		assert.Equal(t, http.StatusForbidden, ifNoneMatch(t, srv, list, adminToken, etag).Status,
			"an exhausted budget refuses before the ETag is looked at")
		srv.SetRateRemaining(adminToken, githubtest.DefaultRateLimit)
	})
	t.Run("go-github sees the 304 and the unchanged budget", func(t *testing.T) {
		ctx := testContext(t, 10*time.Second)
		gh := newGitHub(t, srv, repoToken)
		req, err := gh.NewRequest(http.MethodGet, "repos/acme/website/actions/runners", nil)
		require.NoError(t, err)
		var runners github.Runners
		resp, err := gh.Do(ctx, req, &runners)
		require.NoError(t, err)
		tag := resp.Header.Get("ETag")
		req, err = gh.NewRequest(http.MethodGet, "repos/acme/website/actions/runners", nil)
		require.NoError(t, err)
		req.Header.Set("If-None-Match", tag)
		resp2, err := gh.Do(ctx, req, &runners)
		assertStatus(t, err, http.StatusNotModified)
		assert.Equal(t, resp.Rate.Remaining, resp2.Rate.Remaining)
	})
}

// ifNoneMatch sends a GET with an If-None-Match header.
func ifNoneMatch(t *testing.T, srv *githubtest.Server, path, token, inm string) answer {
	t.Helper()
	return callWith(t, srv, http.MethodGet, path, token, nil, http.Header{"If-None-Match": {inm}})
}

// TestETagFollowsTheListing checks that every change a listing shows moves
// its ETag, and that nothing else does.
func TestETagFollowsTheListing(t *testing.T) {
	t.Parallel()
	clock := githubtest.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := newServer(t, githubtest.Options{Clock: clock, OfflineAfter: 10 * time.Second, PollTimeout: time.Second})
	const list = "orgs/acme/actions/runners"
	etag := call(t, srv, http.MethodGet, list, adminToken, nil).Header.Get("ETag")
	// changed reports whether the listing's ETag moved, and follows it.
	changed := func(t *testing.T) bool {
		t.Helper()
		a := ifNoneMatch(t, srv, list, adminToken, etag)
		if a.Status == http.StatusNotModified {
			return false
		}
		require.Equal(t, http.StatusOK, a.Status)
		etag = a.Header.Get("ETag")
		return true
	}

	assert.False(t, changed(t), "nothing happened")
	r, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: "seeded"})
	require.NoError(t, err)
	assert.True(t, changed(t), "a runner added")
	_, err = srv.AddRunner("acme/website", githubtest.RunnerSeed{Name: "elsewhere"})
	require.NoError(t, err)
	assert.False(t, changed(t), "a runner of another scope")
	require.NoError(t, srv.SetRunnerStatus(r.ID, true))
	assert.True(t, changed(t), "online")
	require.NoError(t, srv.SetRunnerBusy(r.ID, true))
	assert.True(t, changed(t), "busy")
	require.NoError(t, srv.SetRunnerBusy(r.ID, false))
	assert.True(t, changed(t), "idle")
	require.NoError(t, srv.SetRunnerStatus(r.ID, false))
	assert.True(t, changed(t), "offline")

	j := jit(t, srv, "orgs/acme", "listened", "x")
	assert.True(t, changed(t), "a JIT runner")
	ans := runnerCall(t, srv, "sessions", "runner_id", fmt.Sprint(j.Runner.ID), "secret", jitSecret(t, j.EncodedJITConfig),
		"os", "Linux", "arch", "X64", "version", githubtest.DefaultRunnerVersion)
	require.Equal(t, "ok", ans["status"])
	assert.True(t, changed(t), "its listener connected")
	clock.Advance(5 * time.Second)
	assert.False(t, changed(t), "time alone changes nothing while the listener is in touch")
	clock.Advance(6 * time.Second)
	assert.True(t, changed(t), "its listener went silent")

	a := call(t, srv, http.MethodDelete, fmt.Sprintf("orgs/acme/actions/runners/%d", r.ID), adminToken, nil)
	require.Equal(t, http.StatusNoContent, a.Status)
	assert.True(t, changed(t), "a runner removed")

	t.Run("other GETs carry ETags too", func(t *testing.T) {
		for _, path := range []string{
			fmt.Sprintf("orgs/acme/actions/runners/%d", j.Runner.ID),
			fmt.Sprintf("orgs/acme/actions/runners/%d/labels", j.Runner.ID),
			"orgs/acme/actions/runners/downloads",
			"orgs/acme/actions/runner-groups",
			entPath + "/actions/runner-groups",
		} {
			token := adminToken
			if strings.HasPrefix(path, "enterprises/") {
				token = entToken
			}
			a := call(t, srv, http.MethodGet, path, token, nil)
			require.Equal(t, http.StatusOK, a.Status, path)
			tag := a.Header.Get("ETag")
			require.NotEmpty(t, tag, path)
			assert.Equal(t, http.StatusNotModified, ifNoneMatch(t, srv, path, token, tag).Status, path)
		}
	})
	t.Run("an installation's 304s cost its budget nothing", func(t *testing.T) {
		app := addApp(t, srv, githubtest.AppSeed{})
		inst := addInstallation(t, srv, app.ID, githubtest.InstallationSeed{Account: "acme"})
		tok, err := srv.CreateInstallationToken(inst.ID)
		require.NoError(t, err)
		a := call(t, srv, http.MethodGet, list, tok.Token, nil)
		require.Equal(t, http.StatusOK, a.Status)
		used := srv.InstallationRateLimit(inst.ID).Used
		assert.Equal(t, http.StatusNotModified, ifNoneMatch(t, srv, list, tok.Token, a.Header.Get("ETag")).Status)
		assert.Equal(t, used, srv.InstallationRateLimit(inst.ID).Used)
	})
}
