package githubtest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

// testKeys are two RSA keys made once per test binary: App keys are slow to
// make.
var testKeys = sync.OnceValues(func() ([2]*rsa.PrivateKey, error) {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return keys, err
		}
		keys[i] = k
	}
	return keys, nil
})

func testKey(t *testing.T, i int) *rsa.PrivateKey {
	t.Helper()
	keys, err := testKeys()
	require.NoError(t, err)
	return keys[i]
}

// addApp registers an App with the first test key.
func addApp(t *testing.T, srv *githubtest.Server, seed githubtest.AppSeed) githubtest.App {
	t.Helper()
	if seed.PrivateKey == nil {
		seed.PrivateKey = testKey(t, 0)
	}
	a, err := srv.AddApp(seed)
	require.NoError(t, err)
	return a
}

func addInstallation(t *testing.T, srv *githubtest.Server, appID int64, seed githubtest.InstallationSeed) githubtest.Installation {
	t.Helper()
	inst, err := srv.AddInstallation(appID, seed)
	require.NoError(t, err)
	return inst
}

// appTransport authenticates as an App the way
// github.com/bradleyfalzon/ghinstallation's AppsTransport does: a JWT per
// request, iat 30 s back, exp 2 minutes after iat, iss the App id. It reads
// the simulator's clock, as a client's clock would be in step with GitHub's.
type appTransport struct {
	srv *githubtest.Server
	app githubtest.App
}

func (tr appTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	iat := tr.srv.Now().Add(-30 * time.Second)
	signed, err := githubtest.SignAppJWT(tr.app.PrivateKey, strconv.FormatInt(tr.app.ID, 10), iat, iat.Add(2*time.Minute))
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+signed)
	return http.DefaultTransport.RoundTrip(req)
}

// newAppGitHub returns a go-github client that authenticates as an App.
func newAppGitHub(t *testing.T, srv *githubtest.Server, a githubtest.App) *github.Client {
	t.Helper()
	c := newGitHub(t, srv, "")
	base := c.BaseURL
	c = github.NewClient(&http.Client{Transport: appTransport{srv: srv, app: a}})
	c.BaseURL = base
	return c
}

func TestAppInstallationTokenThroughGoGitHub(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{Repos: []string{"acme/website", "acme/api"}})
	ctx := testContext(t, 20*time.Second)
	a := addApp(t, srv, githubtest.AppSeed{Name: "Runner Manager"})
	inst := addInstallation(t, srv, a.ID, githubtest.InstallationSeed{Account: "acme"})
	appGH := newAppGitHub(t, srv, a)

	block, _ := pem.Decode(a.PrivateKeyPEM)
	require.NotNil(t, block)
	assert.Equal(t, "RSA PRIVATE KEY", block.Type, "the key as GitHub hands it out")
	_, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	require.NoError(t, err)

	me, _, err := appGH.Apps.Get(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, a.ID, me.GetID())
	assert.Equal(t, "runner-manager", me.GetSlug())

	installs, _, err := appGH.Apps.ListInstallations(ctx, nil)
	require.NoError(t, err)
	require.Len(t, installs, 1)
	assert.Equal(t, inst.ID, installs[0].GetID())
	assert.Equal(t, "acme", installs[0].GetAccount().GetLogin())
	assert.Equal(t, githubtest.TargetOrganization, installs[0].GetTargetType())
	assert.Equal(t, "write", installs[0].GetPermissions().GetOrganizationSelfHostedRunners())

	found, _, err := appGH.Apps.FindOrganizationInstallation(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, inst.ID, found.GetID())
	found, _, err = appGH.Apps.FindRepositoryInstallation(ctx, "acme", "website")
	require.NoError(t, err)
	assert.Equal(t, inst.ID, found.GetID())
	got, _, err := appGH.Apps.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	assert.Equal(t, "all", got.GetRepositorySelection())
	_, _, err = appGH.Apps.FindOrganizationInstallation(ctx, "elsewhere")
	assertStatus(t, err, http.StatusNotFound)

	tok, resp, err := appGH.Apps.CreateInstallationToken(ctx, inst.ID, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Regexp(t, `^ghs_[A-Za-z0-9]{36}$`, tok.GetToken())
	assert.WithinDuration(t, srv.Now().Add(time.Hour), tok.GetExpiresAt().Time, 2*time.Second)
	assert.Equal(t, "write", tok.GetPermissions().GetOrganizationSelfHostedRunners())
	assert.Equal(t, "read", tok.GetPermissions().GetMetadata())

	gh := newGitHub(t, srv, tok.GetToken())
	cfg, _, err := gh.Actions.GenerateOrgJITConfig(ctx, "acme", &github.GenerateJITConfigRequest{Name: "by-app", RunnerGroupID: 1, Labels: []string{"app"}})
	require.NoError(t, err)
	runners, resp, err := gh.Actions.ListOrganizationRunners(ctx, "acme", nil)
	require.NoError(t, err)
	require.Equal(t, 1, runners.TotalCount)
	assert.Equal(t, cfg.GetRunner().GetID(), runners.Runners[0].GetID())
	assert.Equal(t, "organization_self_hosted_runners=read", resp.Header.Get("X-Accepted-GitHub-Permissions"))
	_, _, err = gh.Actions.ListRunners(ctx, "acme", "website", nil)
	require.NoError(t, err, "the default App permissions include administration")
	_, err = gh.Actions.RemoveOrganizationRunner(ctx, "acme", cfg.GetRunner().GetID())
	require.NoError(t, err)

	t.Run("a token narrowed to one repository and read access", func(t *testing.T) {
		tok, _, err := appGH.Apps.CreateInstallationToken(ctx, inst.ID, &github.InstallationTokenOptions{
			Repositories: []string{"website"},
			Permissions:  &github.InstallationPermissions{Administration: github.String("read")},
		})
		require.NoError(t, err)
		require.Len(t, tok.Repositories, 1)
		assert.Equal(t, "acme/website", tok.Repositories[0].GetFullName())
		gh := newGitHub(t, srv, tok.GetToken())
		_, _, err = gh.Actions.ListRunners(ctx, "acme", "website", nil)
		require.NoError(t, err)
		_, _, err = gh.Actions.CreateRegistrationToken(ctx, "acme", "website")
		assertStatus(t, err, http.StatusForbidden)
		_, _, err = gh.Actions.ListRunners(ctx, "acme", "api", nil)
		assertStatus(t, err, http.StatusNotFound)
		_, _, err = gh.Actions.ListOrganizationRunners(ctx, "acme", nil)
		assertStatus(t, err, http.StatusForbidden)
	})
	t.Run("a token cannot ask for more than the installation has", func(t *testing.T) {
		_, _, err := appGH.Apps.CreateInstallationToken(ctx, inst.ID, &github.InstallationTokenOptions{
			Permissions: &github.InstallationPermissions{Administration: github.String("admin")},
		})
		assertMessage(t, err, http.StatusUnprocessableEntity, "The permissions requested are not granted to this installation.")
		_, _, err = appGH.Apps.CreateInstallationToken(ctx, inst.ID, &github.InstallationTokenOptions{Repositories: []string{"nope"}})
		assertMessage(t, err, http.StatusUnprocessableEntity,
			"There is at least one repository that does not exist or is not accessible to the parent installation.")
	})
	t.Run("another App's installation is not found", func(t *testing.T) {
		other := addApp(t, srv, githubtest.AppSeed{PrivateKey: testKey(t, 1)})
		_, _, err := newAppGitHub(t, srv, other).Apps.CreateInstallationToken(ctx, inst.ID, nil)
		assertStatus(t, err, http.StatusNotFound)
	})
}

// assertStatus checks that err is a GitHub error answer with a status.
func assertStatus(t *testing.T, err error, status int) {
	t.Helper()
	var ghErr *github.ErrorResponse
	require.True(t, errors.As(err, &ghErr), "want a %d answer, got %v", status, err)
	assert.Equal(t, status, ghErr.Response.StatusCode, "%v", err)
}

func assertMessage(t *testing.T, err error, status int, msg string) {
	t.Helper()
	assertStatus(t, err, status)
	var ghErr *github.ErrorResponse
	if errors.As(err, &ghErr) {
		assert.Equal(t, msg, ghErr.Message)
	}
}

// TestAppJWTVerification sends JWTs GitHub would take and refuse, with the
// answers GitHub gives.
func TestAppJWTVerification(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	clock := githubtest.NewFakeClock(now)
	srv := newServer(t, githubtest.Options{Clock: clock})
	a := addApp(t, srv, githubtest.AppSeed{})
	inst := addInstallation(t, srv, a.ID, githubtest.InstallationSeed{Account: "acme"})
	key := testKey(t, 0)
	id := strconv.FormatInt(a.ID, 10)
	sign := func(iss string, iat, exp time.Time) string {
		s, err := githubtest.SignAppJWT(key, iss, iat, exp)
		require.NoError(t, err)
		return s
	}
	signClaims := func(method jwt.SigningMethod, k any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(k)
		require.NoError(t, err)
		return s
	}
	good, err := a.JWT(now)
	require.NoError(t, err)
	pat := adminToken
	itok, err := srv.CreateInstallationToken(inst.ID)
	require.NoError(t, err)

	const (
		undecodable = "A JSON web token could not be decoded"
		issuedAt    = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
		expired     = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
		tooFar      = "'Expiration time' claim ('exp') is too far in the future"
	)
	tests := []struct {
		name, token string
		want        int
		msg         string
	}{
		{"the docs' JWT (iat a minute back, exp 10 minutes ahead), by client id", good, 201, ""},
		{"ghinstallation's JWT, by app id", sign(id, now.Add(-30*time.Second), now.Add(90*time.Second)), 201, ""},
		{"iss as a JSON number", signClaims(jwt.SigningMethodRS256, key, jwt.MapClaims{"iss": a.ID, "iat": now.Unix() - 60, "exp": now.Unix() + 60}), 201, ""},
		{"exp exactly 10 minutes ahead", sign(id, now, now.Add(10*time.Minute)), 201, ""},
		{"exp 10 minutes and a second ahead", sign(id, now, now.Add(10*time.Minute+time.Second)), 401, tooFar},
		{"iat a second ahead of GitHub's clock", sign(id, now.Add(time.Second), now.Add(5*time.Minute)), 401, issuedAt},
		{"exp passed", sign(id, now.Add(-10*time.Minute), now.Add(-time.Second)), 401, expired},
		{"exp now", sign(id, now.Add(-time.Minute), now), 401, expired},
		{"no exp", signClaims(jwt.SigningMethodRS256, key, jwt.MapClaims{"iss": id, "iat": now.Unix()}), 401, expired},
		{"no iat", signClaims(jwt.SigningMethodRS256, key, jwt.MapClaims{"iss": id, "exp": now.Unix() + 60}), 401, issuedAt},
		{"a fractional iat", signClaims(jwt.SigningMethodRS256, key, jwt.MapClaims{"iss": id, "iat": float64(now.Unix()) - 0.5, "exp": now.Unix() + 60}), 401, issuedAt},
		{"an iat that is a string", signClaims(jwt.SigningMethodRS256, key, jwt.MapClaims{"iss": id, "iat": "yesterday", "exp": now.Unix() + 60}), 401, issuedAt},
		{"signed with another key", signClaims(jwt.SigningMethodRS256, testKey(t, 1), jwt.MapClaims{"iss": id, "iat": now.Unix(), "exp": now.Unix() + 60}), 401, undecodable},
		{"HS256", signClaims(jwt.SigningMethodHS256, []byte("secret"), jwt.MapClaims{"iss": id, "iat": now.Unix(), "exp": now.Unix() + 60}), 401, undecodable},
		{"not a JWT", "a.b.c", 401, undecodable},
		{"an iss that is no id", sign("runner-manager", now, now.Add(time.Minute)), 401, "'Issuer' claim ('iss') must be an Integer"},
		{"an App that does not exist", sign("999", now, now.Add(time.Minute)), 404, "Integration not found"},
		{"a client id that does not exist", sign("Iv23liNOSUCHAPP0000", now, now.Add(time.Minute)), 404, "Integration not found"},
		{"a personal access token", pat, 401, undecodable},
		{"an installation access token", itok.Token, 401, undecodable},
		{"nothing", "", 401, "Requires authentication"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := call(t, srv, http.MethodPost, fmt.Sprintf("app/installations/%d/access_tokens", inst.ID), tt.token, nil)
			require.Equal(t, tt.want, ans.Status, "%s", ans.Body)
			if tt.msg != "" {
				assert.Equal(t, tt.msg, ans.message(t))
			}
		})
	}
	t.Run("a JWT opens no runner endpoint", func(t *testing.T) {
		ans := call(t, srv, http.MethodGet, "orgs/acme/actions/runners", good, nil)
		assert.Equal(t, http.StatusUnauthorized, ans.Status)
		assert.Equal(t, "Bad credentials", ans.message(t))
	})
	t.Run("a JWT's lifetime follows the clock", func(t *testing.T) {
		clock.Advance(10 * time.Minute)
		ans := call(t, srv, http.MethodGet, "app", good, nil)
		assert.Equal(t, http.StatusUnauthorized, ans.Status)
		assert.Equal(t, expired, ans.message(t))
	})
}

func TestInstallationTokenPermissions(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{Orgs: []string{"acme", "beta"}, Repos: []string{"acme/website", "acme/api", "beta/app", "octocat/hello"}})
	a := addApp(t, srv, githubtest.AppSeed{})
	token := func(seed githubtest.InstallationSeed) string {
		t.Helper()
		inst := addInstallation(t, srv, a.ID, seed)
		tok, err := srv.CreateInstallationToken(inst.ID)
		require.NoError(t, err)
		return tok.Token
	}
	orgRunners := token(githubtest.InstallationSeed{Account: "acme", Permissions: map[string]string{
		githubtest.PermissionOrgSelfHostedRunners: githubtest.LevelWrite,
	}})
	repoAdminRead := token(githubtest.InstallationSeed{Account: "beta", Permissions: map[string]string{
		githubtest.PermissionAdministration: githubtest.LevelRead,
	}})
	userRepo := token(githubtest.InstallationSeed{Account: "octocat", Repositories: []string{"octocat/hello"}})
	entInst := token(githubtest.InstallationSeed{Account: entPath})

	const notAccessible = "Resource not accessible by integration"
	tests := []struct {
		name, method, path, token string
		want                      int
		msg                       string
	}{
		{"organization runners with organization_self_hosted_runners", "GET", "orgs/acme/actions/runners", orgRunners, 200, ""},
		{"an organization JIT config needs write", "POST", "orgs/acme/actions/runners/registration-token", orgRunners, 201, ""},
		{"organization runner groups", "GET", "orgs/acme/actions/runner-groups", orgRunners, 200, ""},
		{"repository runners need administration", "GET", "repos/acme/website/actions/runners", orgRunners, 403, notAccessible},
		{"another organization", "GET", "orgs/beta/actions/runners", orgRunners, 403, notAccessible},
		{"administration read lists", "GET", "repos/beta/app/actions/runners", repoAdminRead, 200, ""},
		{"administration read does not write", "POST", "repos/beta/app/actions/runners/registration-token", repoAdminRead, 403, notAccessible},
		{"no organization permission", "GET", "orgs/beta/actions/runners", repoAdminRead, 403, notAccessible},
		{"a user's selected repository", "GET", "repos/octocat/hello/actions/runners", userRepo, 200, ""},
		{"a repository of another account is not found", "GET", "repos/acme/api/actions/runners", userRepo, 404, "Not Found"},
		{"enterprise runners are not for Apps", "GET", entPath + "/actions/runners", entInst, 403, notAccessible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := call(t, srv, tt.method, tt.path, tt.token, nil)
			require.Equal(t, tt.want, ans.Status, "%s", ans.Body)
			if tt.msg != "" {
				assert.Equal(t, tt.msg, ans.message(t))
			}
		})
	}
	ans := call(t, srv, http.MethodPost, "repos/beta/app/actions/runners/registration-token", repoAdminRead, nil)
	assert.Equal(t, "administration=write", ans.Header.Get("X-Accepted-GitHub-Permissions"))

	t.Run("installations are checked", func(t *testing.T) {
		_, err := srv.AddInstallation(a.ID, githubtest.InstallationSeed{Account: "nobody"})
		assert.Error(t, err)
		_, err = srv.AddInstallation(a.ID, githubtest.InstallationSeed{Account: "acme"})
		assert.ErrorContains(t, err, "installed on acme already")
		_, err = srv.AddInstallation(999, githubtest.InstallationSeed{Account: "acme"})
		assert.Error(t, err)
		_, err = srv.AddInstallation(a.ID, githubtest.InstallationSeed{Account: "octocat", Repositories: []string{"acme/api"}})
		assert.Error(t, err, "a repository of another account")
		_, err = srv.AddInstallation(a.ID, githubtest.InstallationSeed{Account: "beta", Permissions: map[string]string{"x": "all"}})
		assert.Error(t, err)
	})
}

// TestInstallationTokenExpiry checks the token's hour, a test's control of
// it, and that expired tokens get what GitHub gives them.
func TestInstallationTokenExpiry(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := githubtest.NewFakeClock(start)
	srv := newServer(t, githubtest.Options{Clock: clock, InstallationTokenLifetime: 10 * time.Minute})
	ctx := testContext(t, 20*time.Second)
	a := addApp(t, srv, githubtest.AppSeed{})
	inst := addInstallation(t, srv, a.ID, githubtest.InstallationSeed{Account: "acme"})
	appGH := newAppGitHub(t, srv, a)

	tok, _, err := appGH.Apps.CreateInstallationToken(ctx, inst.ID, nil)
	require.NoError(t, err)
	assert.Equal(t, start.Add(10*time.Minute), tok.GetExpiresAt().Time.UTC())
	gh := newGitHub(t, srv, tok.GetToken())
	_, _, err = gh.Actions.ListOrganizationRunners(ctx, "acme", nil)
	require.NoError(t, err)

	clock.Advance(10 * time.Minute)
	_, _, err = gh.Actions.ListOrganizationRunners(ctx, "acme", nil)
	assertMessage(t, err, http.StatusUnauthorized, "Bad credentials")

	fresh, _, err := appGH.Apps.CreateInstallationToken(ctx, inst.ID, nil)
	require.NoError(t, err, "the App buys a new token")
	gh = newGitHub(t, srv, fresh.GetToken())
	_, _, err = gh.Actions.ListOrganizationRunners(ctx, "acme", nil)
	require.NoError(t, err)

	require.NoError(t, srv.SetInstallationTokenExpiry(fresh.GetToken(), srv.Now()))
	_, _, err = gh.Actions.ListOrganizationRunners(ctx, "acme", nil)
	assertMessage(t, err, http.StatusUnauthorized, "Bad credentials")
	assert.Error(t, srv.SetInstallationTokenExpiry("ghs_unknown", srv.Now()))

	tokens := srv.InstallationTokens(inst.ID)
	require.Len(t, tokens, 2)
	assert.Equal(t, tok.GetToken(), tokens[0].Token)

	revoked, err := srv.CreateInstallationToken(inst.ID)
	require.NoError(t, err)
	srv.RevokeToken(revoked.Token)
	assert.Equal(t, http.StatusUnauthorized, call(t, srv, http.MethodGet, "orgs/acme/actions/runners", revoked.Token, nil).Status)
}

func TestInstallationRateLimit(t *testing.T) {
	t.Parallel()
	repos := []string{"acme/website"}
	for i := range 25 {
		repos = append(repos, fmt.Sprintf("many/repo-%02d", i))
	}
	srv := newServer(t, githubtest.Options{Orgs: []string{"acme", "many", "big", "solo", "huge"}, Repos: repos})
	a := addApp(t, srv, githubtest.AppSeed{})
	require.NoError(t, srv.AddEnterprise("corp", "incorp"))

	for _, tt := range []struct {
		name string
		seed githubtest.InstallationSeed
		want int
	}{
		{"the minimum", githubtest.InstallationSeed{Account: "solo"}, 5000},
		{"50 more per repository over 20", githubtest.InstallationSeed{Account: "many"}, 5250},
		{"50 more per user over 20", githubtest.InstallationSeed{Account: "big", Users: 30}, 5500},
		{"at most 12,500", githubtest.InstallationSeed{Account: "huge", Users: 10000}, 12500},
		{"15,000 for an organization of an enterprise", githubtest.InstallationSeed{Account: "incorp"}, 15000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inst := addInstallation(t, srv, a.ID, tt.seed)
			assert.Equal(t, tt.want, inst.RateLimit)
			assert.Equal(t, tt.want, srv.InstallationRateLimit(inst.ID).Limit)
		})
	}

	t.Run("an installation's tokens share its budget, apart from personal tokens", func(t *testing.T) {
		other := addApp(t, srv, githubtest.AppSeed{PrivateKey: testKey(t, 1)})
		inst := addInstallation(t, srv, other.ID, githubtest.InstallationSeed{Account: "acme", RateLimit: 3})
		first, err := srv.CreateInstallationToken(inst.ID)
		require.NoError(t, err)
		second, err := srv.CreateInstallationToken(inst.ID)
		require.NoError(t, err)
		ans := call(t, srv, http.MethodGet, "orgs/acme/actions/runners", first.Token, nil)
		require.Equal(t, http.StatusOK, ans.Status)
		assert.Equal(t, "3", ans.Header.Get("X-RateLimit-Limit"))
		assert.Equal(t, "2", ans.Header.Get("X-RateLimit-Remaining"))
		ans = call(t, srv, http.MethodGet, "orgs/acme/actions/runners", second.Token, nil)
		assert.Equal(t, "1", ans.Header.Get("X-RateLimit-Remaining"))
		assert.Equal(t, githubtest.DefaultRateLimit, srv.RateLimit(adminToken).Remaining)
		assert.Equal(t, 1, srv.RateLimit(first.Token).Remaining)

		call(t, srv, http.MethodGet, "orgs/acme/actions/runners", second.Token, nil)
		ans = call(t, srv, http.MethodGet, "orgs/acme/actions/runners", first.Token, nil)
		assert.Equal(t, http.StatusForbidden, ans.Status)
		assert.Contains(t, ans.message(t), fmt.Sprintf("API rate limit exceeded for installation ID %d.", inst.ID))

		ans = call(t, srv, http.MethodGet, "rate_limit", first.Token, nil)
		require.Equal(t, http.StatusOK, ans.Status)
		var body struct {
			Rate struct{ Limit, Remaining int } `json:"rate"`
		}
		ans.json(t, &body)
		assert.Equal(t, 3, body.Rate.Limit)
		assert.Equal(t, 0, body.Rate.Remaining)
	})
}
