package github_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/github/githubtest"
)

// Observe sees every request that went out, by endpoint template and
// status, with the rate limit after it; none that a known limit refused.
func TestObserveSeesEveryRequest(t *testing.T) {
	srv := newServer(t, githubtest.Options{})
	type seen struct {
		endpoint string
		status   int
		rate     github.RateStatus
	}
	var mu sync.Mutex
	var got []seen
	c := newClient(t, srv, "acme", adminToken, github.Config{Observe: func(endpoint string, status int, rate github.RateStatus) {
		mu.Lock()
		got = append(got, seen{endpoint, status, rate})
		mu.Unlock()
	}})
	ctx := testContext(t, 30*time.Second)
	_, err := c.ListRunners(ctx, "")
	require.NoError(t, err)
	require.NoError(t, c.DeleteRunner(ctx, 424242), "a runner already gone counts as deleted")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 2)
	require.Equal(t, "GET /orgs/{org}/actions/runners", got[0].endpoint)
	require.Equal(t, 200, got[0].status)
	require.True(t, got[0].rate.Known)
	require.Positive(t, got[0].rate.Limit)
	require.Equal(t, "DELETE /orgs/{org}/actions/runners/{runner_id}", got[1].endpoint)
	require.Equal(t, 404, got[1].status)
	counts := c.RequestCounts()
	require.Equal(t, 1, counts["GET /orgs/{org}/actions/runners"])
}
