package github_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/github/githubtest/conformance"
)

const (
	adminToken = "ghp_admin"
	repoToken  = "ghp_repoonly"
	noneToken  = "ghp_noscopes"
)

var loadSpec = sync.OnceValues(func() (*conformance.Validator, error) {
	return conformance.Load("githubtest/testdata/github-runners-openapi.json")
})

// newServer starts a simulator with the organization acme, the repository
// acme/website and the test tokens; every answer it gives is checked
// against GitHub's description when the test ends.
func newServer(t *testing.T, opts githubtest.Options) *githubtest.Server {
	t.Helper()
	opts.Orgs = append(opts.Orgs, "acme")
	opts.Repos = append(opts.Repos, "acme/website")
	if opts.Tokens == nil {
		opts.Tokens = map[string][]string{
			adminToken: {githubtest.ScopeAdminOrg, githubtest.ScopeRepo},
			repoToken:  {githubtest.ScopeRepo},
			noneToken:  nil,
		}
	}
	opts.Record = true
	srv, err := githubtest.Start(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	v, err := loadSpec()
	require.NoError(t, err)
	v.CheckOnCleanup(t, srv)
	return srv
}

// newClient returns a client of srv for path with token; cfg may set other
// fields.
func newClient(t *testing.T, srv *githubtest.Server, path, token string, cfg ...github.Config) *github.Client {
	t.Helper()
	var c github.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.Path, c.Token, c.APIURL = path, token, srv.URL()
	if c.Logger == nil {
		c.Logger = testLogger(t)
	}
	client, err := github.New(c)
	require.NoError(t, err)
	return client
}

// testLogger writes to the test log and fails the test if a secret named
// in secrets ever shows up in a log line.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	t  *testing.T
	mu sync.Mutex
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, secret := range []string{adminToken, repoToken, noneToken} {
		if bytes.Contains(p, []byte(secret)) {
			w.t.Errorf("a token reached the log: %s", p)
		}
	}
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
