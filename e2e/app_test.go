package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/juju/jujutest"
)

// appOnOrg registers a GitHub App on the unit's simulator, installs it on
// the organisation, and configures the unit to authenticate as that
// installation with key (the App's own key when nil) in a granted secret.
func (e *env) appOnOrg(key []byte) (githubtest.App, githubtest.Installation) {
	e.t.Helper()
	app, err := e.gh.AddApp(githubtest.AppSeed{Name: "runners"})
	require.NoError(e.t, err)
	inst, err := e.gh.AddInstallation(app.ID, githubtest.InstallationSeed{Account: org})
	require.NoError(e.t, err)
	if key == nil {
		key = app.PrivateKeyPEM
	}
	uri := e.sim.AddSecret(map[string]string{"private-key": string(key)}, jujutest.SecretOptions{Granted: true})
	require.NoError(e.t, e.sim.SetConfig(map[string]any{
		"token": "", "app-id": int(app.ID), "app-installation-id": int(inst.ID), "app-private-key": uri,
	}))
	return app, inst
}

// requireKeyNowhere requires that no part of the key reached a log line, a
// status, a hook's output, the charm state or a file of the state folder.
func (e *env) requireKeyNowhere(key []byte) {
	e.t.Helper()
	line := strings.Split(strings.TrimSpace(string(key)), "\n")[1] // a line of the key's body
	for _, l := range e.sim.Logs() {
		require.NotContains(e.t, l.Message, line)
	}
	for _, h := range e.sim.StatusHistory() {
		require.NotContains(e.t, h.Message, line)
	}
	for _, r := range e.sim.Runs() {
		require.NotContains(e.t, r.Stdout+r.Stderr, line)
	}
	for k, v := range e.sim.State() {
		require.NotContains(e.t, v, line, "charm state %s", k)
	}
	state := filepath.Join(filepath.Dir(e.sim.CharmDir()), "github-runner-state")
	_ = filepath.WalkDir(state, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err == nil {
			require.NotContains(e.t, string(data), line, path)
			require.NotContains(e.t, string(data), "ghs_", "%s holds an installation token", path)
		}
		return nil
	})
}

// A unit deploys with GitHub App credentials from a Juju secret, renews
// installation tokens that expire while it runs, and keeps replacing
// runners after the tokens in hand stop working.
func TestAppCredentials(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, envOptions{Prefix: "e2e-app", GitHubOptions: func(o *githubtest.Options) {
		// ghinstallation renews a token a minute before its expiry: a
		// token of 61 s is renewed after at most a second, so the hooks'
		// tokens expire while they run.
		o.InstallationTokenLifetime = 61 * time.Second
	}})
	ctx := testContext(t, 5*time.Minute)
	app, inst := e.appOnOrg(nil)

	snap := e.deploy(ctx)
	require.Equal(t, "active", snap.UnitStatus.Status, snap.UnitStatus.Message)
	first := e.waitOnline(ctx, 1)
	require.NotEmpty(t, e.gh.InstallationTokens(inst.ID))

	// Every token in hand stops working before its stated expiry.
	for _, tok := range e.gh.InstallationTokens(inst.ID) {
		require.NoError(t, e.gh.SetInstallationTokenExpiry(tok.Token, e.gh.Now().Add(-time.Second)))
	}
	minted := len(e.gh.InstallationTokens(inst.ID))
	job := e.gh.QueueJob([]string{"self-hosted"}, time.Second)
	_, err := e.gh.WaitForJob(ctx, job, githubtest.JobCompleted)
	require.NoError(t, err)
	require.NoError(t, e.gh.WaitFor(ctx, func() bool { return len(e.ghRunners()) == 0 }))
	res := e.action(ctx, "reconcile-runners", nil)
	require.Equal(t, "1", res.Results["created"], "%v", res.Results)
	fresh := e.waitOnline(ctx, 1)
	require.NotEqual(t, first, fresh)
	require.Greater(t, len(e.gh.InstallationTokens(inst.ID)), minted, "new tokens were bought")
	e.hook(ctx, "update-status")
	require.Equal(t, "active", e.sim.UnitStatus().Status, e.sim.UnitStatus().Message)
	e.requireKeyNowhere(app.PrivateKeyPEM)
	t.Logf("installation tokens bought: %d over %d hook runs", len(e.gh.InstallationTokens(inst.ID)), len(e.sim.Runs()))
}

// A key that is not the App's, a key that is no key, an installation that
// does not exist and an App without the runner permission block the unit,
// each saying which option to fix.
func TestAppBlocksClearly(t *testing.T) {
	t.Parallel()
	stranger := githubtest.NewServer(githubtest.Options{})
	t.Cleanup(stranger.Close)
	other, err := stranger.AddApp(githubtest.AppSeed{Name: "stranger"})
	require.NoError(t, err)
	tests := []struct {
		name  string
		setup func(e *env) string // returns the wanted message
	}{
		{"a wrong key", func(e *env) string {
			app, _ := e.appOnOrg(other.PrivateKeyPEM)
			return fmt.Sprintf("app-private-key: rejected by GitHub (bad credentials): is it the private key of app-id %d?", app.ID)
		}},
		{"no key at all", func(e *env) string {
			e.appOnOrg([]byte("-----BEGIN RSA PRIVATE KEY-----\nnot base64\n-----END RSA PRIVATE KEY-----\n"))
			return "app-private-key: not an RSA private key in PEM form (want the .pem file GitHub gave for the App)"
		}},
		{"an unknown installation", func(e *env) string {
			app, _ := e.appOnOrg(nil)
			require.NoError(t, e.sim.SetConfig(map[string]any{"app-installation-id": 999}))
			return fmt.Sprintf("app-installation-id 999: GitHub knows no such installation of app-id %d", app.ID)
		}},
		{"no runner permission", func(e *env) string {
			app, err := e.gh.AddApp(githubtest.AppSeed{Name: "narrow", Permissions: map[string]string{githubtest.PermissionAdministration: githubtest.LevelWrite}})
			require.NoError(t, err)
			inst, err := e.gh.AddInstallation(app.ID, githubtest.InstallationSeed{Account: org})
			require.NoError(t, err)
			uri := e.sim.AddSecret(map[string]string{"private-key": string(app.PrivateKeyPEM)}, jujutest.SecretOptions{Granted: true})
			require.NoError(t, e.sim.SetConfig(map[string]any{"token": "", "app-id": int(app.ID), "app-installation-id": int(inst.ID), "app-private-key": uri}))
			return fmt.Sprintf(`app-id %d: missing permission: the App needs the organisation permission "Self-hosted runners" (read and write) for organisation acme`, app.ID)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "e2e-appbad", nil)
			ctx := testContext(t, 3*time.Minute)
			blocked(t, e, ctx, tt.setup(e))
		})
	}
}

// blocked deploys e and requires the unit to block with want.
func blocked(t *testing.T, e *env, ctx context.Context, want string) {
	t.Helper()
	_, err := e.sim.Deploy(ctx)
	require.NoError(t, err, "unit log:\n%s", e.logTail(30))
	require.Equal(t, jujutest.Status{Status: "blocked", Message: want}, e.sim.UnitStatus(), "unit log:\n%s", e.logTail(30))
	require.Empty(t, e.runnerInstances(ctx))
}

// A unit keeps enterprise runners with a token that has
// manage_runners:enterprise, in a runner group of the enterprise.
func TestEnterpriseRunners(t *testing.T) {
	t.Parallel()
	const entToken = "ghp_e2eEnterpriseTokenValue0123456"
	e := newEnvWith(t, envOptions{Prefix: "e2e-ent", Config: map[string]any{
		"path": "enterprise:acme-corp", "token": entToken, "group": "builds",
	}, GitHubOptions: func(o *githubtest.Options) {
		o.Enterprises = map[string][]string{"acme-corp": {org}}
		o.Tokens[entToken] = []string{githubtest.ScopeManageRunnersEnterprise}
	}})
	e.ghPath = "enterprises/acme-corp"
	group, err := e.gh.AddRunnerGroup(e.ghPath, "builds")
	require.NoError(t, err)
	ctx := testContext(t, 4*time.Minute)

	snap := e.deploy(ctx)
	require.Equal(t, "active", snap.UnitStatus.Status, snap.UnitStatus.Message)
	e.waitOnline(ctx, 1)
	for _, r := range e.ghRunners() {
		require.Equal(t, group, r.GroupID)
	}
	job := e.gh.QueueJobFor(e.ghPath, []string{"self-hosted"}, time.Second)
	done, err := e.gh.WaitForJob(ctx, job, githubtest.JobCompleted)
	require.NoError(t, err)
	require.Equal(t, githubtest.ConclusionSuccess, done.Conclusion)

	// An organisation token cannot manage them, and the unit says why.
	require.NoError(t, e.sim.SetConfig(map[string]any{"token": adminToken}))
	_, err = e.sim.RunHook(ctx, "config-changed")
	require.NoError(t, err)
	require.Equal(t, jujutest.Status{Status: "blocked",
		Message: "token: missing permission: the token needs the manage_runners:enterprise scope for enterprise acme-corp"},
		e.sim.UnitStatus())
	require.NoError(t, e.sim.SetConfig(map[string]any{"token": entToken}))
	e.hook(ctx, "config-changed")
}
