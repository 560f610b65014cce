package githubtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/github/githubtest/conformance"
)

// specPath is the copy of GitHub's description kept with the simulator.
const specPath = "testdata/github-runners-openapi.json"

// Test tokens.
const (
	adminToken = "ghp_admin"      // admin:org and repo
	repoToken  = "ghp_repoonly"   // repo only
	noneToken  = "ghp_noscopes"   // valid, no scopes
	entToken   = "ghp_enterprise" // manage_runners:enterprise
)

// enterprise is the test enterprise, which acme belongs to, and entPath its
// scope path.
const (
	enterprise = "acme-corp"
	entPath    = "enterprises/acme-corp"
)

// loadSpec loads the description once per test binary; the Validator is
// read-only after loading.
var loadSpec = sync.OnceValues(func() (*conformance.Validator, error) { return conformance.Load(specPath) })

func validator(t *testing.T) *conformance.Validator {
	t.Helper()
	v, err := loadSpec()
	require.NoError(t, err)
	return v
}

// newServer starts a simulator with acme, acme/website, the enterprise
// acme-corp (of acme) and the test tokens,
// records every exchange and checks them all against GitHub's description
// when the test ends.
func newServer(t *testing.T, opts githubtest.Options) *githubtest.Server {
	t.Helper()
	srv := newUncheckedServer(t, opts)
	validator(t).CheckOnCleanup(t, srv)
	return srv
}

// newUncheckedServer is newServer without the conformance check, for tests
// that break shapes on purpose.
func newUncheckedServer(t *testing.T, opts githubtest.Options) *githubtest.Server {
	t.Helper()
	if opts.Orgs == nil {
		opts.Orgs = []string{"acme"}
	}
	if opts.Repos == nil {
		opts.Repos = []string{"acme/website"}
	}
	if opts.Enterprises == nil {
		opts.Enterprises = map[string][]string{enterprise: {"acme"}}
	}
	if opts.Tokens == nil {
		opts.Tokens = map[string][]string{
			adminToken: {githubtest.ScopeAdminOrg, githubtest.ScopeRepo},
			repoToken:  {githubtest.ScopeRepo},
			noneToken:  nil,
			entToken:   {githubtest.ScopeManageRunnersEnterprise},
		}
	}
	opts.Record = true
	srv, err := githubtest.Start(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return srv
}

// answer is a raw HTTP answer.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(a.Body, v), "body: %s", a.Body)
}

func (a answer) message(t *testing.T) string {
	t.Helper()
	var e struct {
		Message string `json:"message"`
	}
	a.json(t, &e)
	return e.Message
}

// call sends one request to the simulator; path is relative to its URL.
func call(t *testing.T, srv *githubtest.Server, method, path, token string, body any) answer {
	t.Helper()
	return callWith(t, srv, method, path, token, body, nil)
}

// callWith is call with more request headers.
func callWith(t *testing.T, srv *githubtest.Server, method, path, token string, body any, header http.Header) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			data, err := json.Marshal(b)
			require.NoError(t, err)
			rd = bytes.NewReader(data)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, srv.URL()+strings.TrimPrefix(path, "/"), rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// newGitHub returns a go-github client of the simulator with a token.
func newGitHub(t *testing.T, srv *githubtest.Server, token string) *github.Client {
	t.Helper()
	c := github.NewClient(nil)
	if token != "" {
		c = c.WithAuthToken(token)
	}
	u, err := url.Parse(srv.URL())
	require.NoError(t, err)
	c.BaseURL = u
	return c
}

// testContext is a context bounded for one test.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

type jitAnswer struct {
	Runner struct {
		ID        int64  `json:"id"`
		Name      string `json:"name"`
		OS        string `json:"os"`
		Status    string `json:"status"`
		Busy      bool   `json:"busy"`
		Ephemeral bool   `json:"ephemeral"`
		GroupID   int64  `json:"runner_group_id"`
		Labels    []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"labels"`
	} `json:"runner"`
	EncodedJITConfig string `json:"encoded_jit_config"`
}

// jit creates a JIT runner through the REST API, with the admin token or,
// for an enterprise, the enterprise token.
func jit(t *testing.T, srv *githubtest.Server, prefix, name string, labels ...string) jitAnswer {
	t.Helper()
	token := adminToken
	if strings.HasPrefix(prefix, "enterprises/") {
		token = entToken
	}
	a := call(t, srv, http.MethodPost, prefix+"/actions/runners/generate-jitconfig", token,
		map[string]any{"name": name, "runner_group_id": 1, "labels": labels})
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Body)
	var out jitAnswer
	a.json(t, &out)
	return out
}
