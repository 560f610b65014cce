package github_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/github/githubtest"
)

// appClient is a client of srv authenticated as an installation of a new
// App on acme, with the App's default permissions unless perms says.
func appClient(t *testing.T, srv *githubtest.Server, path string, perms map[string]string, cfg github.Config) (*github.Client, githubtest.App, githubtest.Installation) {
	t.Helper()
	app, err := srv.AddApp(githubtest.AppSeed{Name: "runners"})
	require.NoError(t, err)
	inst, err := srv.AddInstallation(app.ID, githubtest.InstallationSeed{Account: "acme", Permissions: perms})
	require.NoError(t, err)
	cfg.Path, cfg.APIURL = path, srv.URL()
	cfg.App = &github.AppCredentials{AppID: app.ID, InstallationID: inst.ID, PrivateKey: app.PrivateKeyPEM}
	cfg.Logger = testLogger(t)
	c, err := github.New(cfg)
	require.NoError(t, err)
	return c, app, inst
}

func TestAppInstallationTokens(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)
	c, _, inst := appClient(t, srv, "acme", nil, github.Config{})

	jit, err := c.GenerateJITConfig(ctx, github.JITRequest{Name: "app-runner", Labels: []string{"x"}})
	require.NoError(t, err)
	list, err := c.ListRunners(ctx, "app-")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, jit.Runner.ID, list[0].ID)
	toks := srv.InstallationTokens(inst.ID)
	require.Len(t, toks, 1, "one installation token serves every call")

	// The token stops working before its stated expiry, mid-run: the
	// client buys a new one and the call goes through.
	require.NoError(t, srv.SetInstallationTokenExpiry(toks[0].Token, srv.Now().Add(-time.Second)))
	list, err = c.ListRunners(ctx, "app-")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NoError(t, c.DeleteRunner(ctx, jit.Runner.ID))
	assert.Len(t, srv.InstallationTokens(inst.ID), 2)
}

func TestAppFailures(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)

	t.Run("a key that is not PEM", func(t *testing.T) {
		_, err := github.New(github.Config{Path: "acme", APIURL: srv.URL(), App: &github.AppCredentials{
			AppID: 1, InstallationID: 2, PrivateKey: []byte("not a key")}})
		require.ErrorIs(t, err, github.ErrBadAppKey)
		assert.NotContains(t, err.Error(), "not a key")
	})
	t.Run("the key of another App", func(t *testing.T) {
		srv := newServer(t, githubtest.Options{})
		app, err := srv.AddApp(githubtest.AppSeed{Name: "runners"})
		require.NoError(t, err)
		inst, err := srv.AddInstallation(app.ID, githubtest.InstallationSeed{Account: "acme"})
		require.NoError(t, err)
		other, err := srv.AddApp(githubtest.AppSeed{Name: "other"})
		require.NoError(t, err)
		c, err := github.New(github.Config{Path: "acme", APIURL: srv.URL(), App: &github.AppCredentials{
			AppID: app.ID, InstallationID: inst.ID, PrivateKey: other.PrivateKeyPEM}})
		require.NoError(t, err)
		_, err = c.ListRunners(ctx, "")
		var ite *github.InstallationTokenError
		require.ErrorAs(t, err, &ite)
		require.ErrorIs(t, err, github.ErrBadCredentials)
		assert.NotContains(t, err.Error(), "PRIVATE KEY")
	})
	t.Run("an unknown installation", func(t *testing.T) {
		app, err := srv.AddApp(githubtest.AppSeed{Name: "lonely"})
		require.NoError(t, err)
		c, err := github.New(github.Config{Path: "acme", APIURL: srv.URL(), App: &github.AppCredentials{
			AppID: app.ID, InstallationID: 999999, PrivateKey: app.PrivateKeyPEM}})
		require.NoError(t, err)
		_, err = c.ListRunners(ctx, "")
		var ite *github.InstallationTokenError
		require.ErrorAs(t, err, &ite)
		require.ErrorIs(t, err, github.ErrNotFound)
	})
	t.Run("an App without the runner permission", func(t *testing.T) {
		c, _, _ := appClient(t, newServer(t, githubtest.Options{}), "acme",
			map[string]string{githubtest.PermissionAdministration: githubtest.LevelWrite}, github.Config{})
		_, err := c.ListRunners(ctx, "")
		require.ErrorIs(t, err, github.ErrForbidden)
		var api *github.APIError
		require.ErrorAs(t, err, &api)
		assert.Equal(t, "Resource not accessible by integration", api.Message)
	})
}

// The enterprise the tests use, which acme belongs to, and a token with
// manage_runners:enterprise.
const (
	enterprise = "acme-corp"
	entPath    = "enterprises/acme-corp"
	entToken   = "ghp_enterprise"
)

func TestEnterpriseScope(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{
		Enterprises: map[string][]string{enterprise: {"acme"}},
		Tokens: map[string][]string{
			adminToken: {githubtest.ScopeAdminOrg, githubtest.ScopeRepo},
			entToken:   {githubtest.ScopeManageRunnersEnterprise},
		},
	})
	ctx := testContext(t, 30*time.Second)
	c := newClient(t, srv, "enterprise:"+enterprise, entToken)
	assert.Equal(t, srv.WebURL(entPath), c.WebURL())
	assert.Equal(t, "enterprise:acme-corp", c.Scope().String())
	builds, err := srv.AddRunnerGroup(entPath, "builds")
	require.NoError(t, err)

	jit, err := c.GenerateJITConfig(ctx, github.JITRequest{Name: "ent-1", Labels: []string{"x"}, Group: "Builds"})
	require.NoError(t, err)
	seen, ok := srv.Runner(jit.Runner.ID)
	require.True(t, ok)
	assert.Equal(t, builds, seen.GroupID)
	assert.Equal(t, entPath, seen.Path)
	list, err := c.ListRunners(ctx, "ent-")
	require.NoError(t, err)
	require.Len(t, list, 1)
	got, err := c.GetRunner(ctx, jit.Runner.ID)
	require.NoError(t, err)
	assert.Equal(t, "ent-1", got.Name)
	_, err = c.RegistrationToken(ctx)
	require.NoError(t, err)
	_, err = c.RemoveToken(ctx)
	require.NoError(t, err)
	dl, err := c.RunnerDownloads(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, dl)
	require.NoError(t, c.DeleteRunner(ctx, jit.Runner.ID))
	_, err = c.GenerateJITConfig(ctx, github.JITRequest{Name: "ent-2", Labels: []string{"x"}, Group: "nope"})
	require.ErrorIs(t, err, github.ErrUnknownGroup)
	assert.Equal(t, 1, c.RequestCounts()["GET /enterprises/{enterprise}/actions/runners"])

	// An organisation token does not reach the enterprise.
	_, err = newClient(t, srv, "enterprise:"+enterprise, adminToken).ListRunners(ctx, "")
	require.ErrorIs(t, err, github.ErrForbidden)
}

func TestParseEnterprisePath(t *testing.T) {
	for _, bad := range []string{"enterprise:", "enterprise:Acme", "enterprise:-x", "enterprise:a/b"} {
		_, err := github.ParsePath(bad)
		require.ErrorIs(t, err, github.ErrInvalidPath, bad)
	}
	s, err := github.ParsePath(" enterprise:acme-corp ")
	require.NoError(t, err)
	assert.True(t, s.IsEnterprise())
	assert.False(t, s.IsOrg())
	assert.Equal(t, "acme-corp", s.Enterprise())
}

// A steady listing costs no rate-limit point, also from a new process that
// shares the cache folder; another token never gets the first one's
// answers; nothing secret reaches the folder, which only its owner reads.
func TestListingCache(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)
	dir := filepath.Join(t.TempDir(), "cache")
	for i := range 150 {
		_, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: "foreign-" + string(rune('a'+i%26)) + string(rune('a'+i/26))})
		require.NoError(t, err)
	}
	first := newClient(t, srv, "acme", adminToken, github.Config{CacheDir: dir})
	jit, err := first.GenerateJITConfig(ctx, github.JITRequest{Name: "mine-1", Labels: []string{"x"}})
	require.NoError(t, err)
	_, err = first.ListRunners(ctx, "mine-")
	require.NoError(t, err)

	before := srv.RESTStats()
	second := newClient(t, srv, "acme", adminToken, github.Config{CacheDir: dir})
	list, err := second.ListRunners(ctx, "mine-")
	require.NoError(t, err)
	require.Len(t, list, 1)
	after := srv.RESTStats()
	assert.Equal(t, 2, after.Requests-before.Requests, "two pages, revalidated")
	assert.Equal(t, 2, after.NotModified-before.NotModified)
	assert.Zero(t, after.RatePoints-before.RatePoints, "a steady listing costs nothing")

	// A change shows at once.
	require.NoError(t, second.DeleteRunner(ctx, jit.Runner.ID))
	list, err = second.ListRunners(ctx, "mine-")
	require.NoError(t, err)
	assert.Empty(t, list)

	// Another token has a folder of its own.
	before = srv.RESTStats()
	srv.AddToken("ghp_other", githubtest.ScopeAdminOrg)
	_, err = newClient(t, srv, "acme", "ghp_other", github.Config{CacheDir: dir}).ListRunners(ctx, "")
	require.NoError(t, err)
	assert.Zero(t, srv.RESTStats().NotModified-before.NotModified)

	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		info, err := d.Info()
		require.NoError(t, err)
		if d.IsDir() {
			assert.Equal(t, fs.FileMode(0o700), info.Mode().Perm(), path)
			return nil
		}
		assert.Equal(t, fs.FileMode(0o600), info.Mode().Perm(), path)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, secret := range []string{adminToken, "ghp_other", jit.EncodedConfig} {
			assert.False(t, bytes.Contains(data, []byte(secret)), "%s holds a secret", path)
		}
		return nil
	}))
}

// A spent rate limit is remembered in the cache folder: a new client
// refuses locally until the reset instead of asking GitHub again.
func TestRateLimitPersisted(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{RateLimit: 2})
	ctx := testContext(t, 30*time.Second)
	dir := t.TempDir()
	c := newClient(t, srv, "acme", adminToken, github.Config{CacheDir: dir})
	for range 2 {
		_, err := c.RegistrationToken(ctx)
		require.NoError(t, err)
	}
	sent := srv.RESTCount()
	fresh := newClient(t, srv, "acme", adminToken, github.Config{CacheDir: dir})
	_, err := fresh.RegistrationToken(ctx)
	var rl *github.RateLimitError
	require.ErrorAs(t, err, &rl)
	assert.Zero(t, rl.StatusCode, "refused locally")
	assert.Equal(t, sent, srv.RESTCount(), "nothing sent")
	assert.True(t, errors.Is(err, github.ErrRateLimited))

	// Another token's budget is its own.
	srv.AddToken("ghp_fresh", githubtest.ScopeAdminOrg)
	_, err = newClient(t, srv, "acme", "ghp_fresh", github.Config{CacheDir: dir}).RegistrationToken(ctx)
	require.NoError(t, err)
}
