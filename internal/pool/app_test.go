package pool_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/pool"
)

func testKeyPEM(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

// The token and the App options: one or the other, each problem naming
// its option.
func TestValidateApp(t *testing.T) {
	key := testKeyPEM(t)
	app := map[string]any{"token": "", "app-id": 12, "app-installation-id": 34, "app-private-key": key}
	tests := []struct {
		name   string
		set    map[string]any
		option string
		want   string
	}{
		{"an App", app, "", ""},
		{"a secret key", map[string]any{"token": "", "app-id": 12, "app-installation-id": 34, "app-private-key": "secret:" + "abcdefghij0123456789"}, "", ""},
		{"both", map[string]any{"app-id": 12, "app-installation-id": 34, "app-private-key": key}, "token",
			"token: set either a token or a GitHub App (app-id, app-installation-id, app-private-key), not both"},
		{"no installation", map[string]any{"token": "", "app-id": 12, "app-private-key": key}, "app-installation-id",
			"app-installation-id: missing: a GitHub App needs app-id, app-installation-id and app-private-key"},
		{"no key", map[string]any{"token": "", "app-id": 12, "app-installation-id": 34}, "app-private-key",
			"app-private-key: missing: a GitHub App needs app-id, app-installation-id and app-private-key"},
		{"a key that is not one", map[string]any{"token": "", "app-id": 12, "app-installation-id": 34, "app-private-key": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"}, "app-private-key",
			"app-private-key: not an RSA private key in PEM form (want the .pem file GitHub gave for the App)"},
		{"an enterprise", map[string]any{"path": "enterprise:acme-corp"}, "", ""},
		{"a bad enterprise", map[string]any{"path": "enterprise:Acme Corp"}, "path",
			`path "enterprise:Acme Corp": want enterprise:<slug>, the enterprise's slug in lower-case letters, digits and hyphens`},
		{"an App for an enterprise", map[string]any{"path": "enterprise:acme-corp", "token": "", "app-id": 12, "app-installation-id": 34, "app-private-key": key}, "path",
			`path "enterprise:acme-corp": GitHub Apps cannot manage enterprise runners; use a token with manage_runners:enterprise`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := validConfig(t)
			for k, v := range tt.set {
				values[k] = v
			}
			s, err := pool.Load(values)
			if tt.option == "" {
				require.NoError(t, err)
				return
			}
			var cerr *config.Error
			require.ErrorAs(t, err, &cerr)
			require.Len(t, cerr.Problems, 1, "%v", cerr)
			assert.Equal(t, tt.option, cerr.Problems[0].Option)
			assert.Equal(t, tt.want, cerr.Problems[0].Text)
			assert.NotContains(t, fmt.Sprintf("%v %+v %#v", err, s, s), "PRIVATE KEY-----\n", "the key is never printed")
		})
	}
}

func TestClassifyApp(t *testing.T) {
	tokenErr := func(status int) error {
		return &github.InstallationTokenError{AppID: 12, InstallationID: 34, Err: &github.APIError{
			StatusCode: status, Kind: map[int]error{401: github.ErrBadCredentials, 404: github.ErrNotFound, 403: github.ErrForbidden}[status]}}
	}
	forbidden := &github.APIError{StatusCode: 403, Message: "Resource not accessible by integration", Kind: github.ErrForbidden}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"a wrong key", &pool.GitHubError{Path: "acme", AppID: 12, Err: tokenErr(401)},
			"app-private-key: rejected by GitHub (bad credentials): is it the private key of app-id 12?"},
		{"an unknown installation", &pool.GitHubError{Path: "acme", AppID: 12, Err: tokenErr(404)},
			"app-installation-id 34: GitHub knows no such installation of app-id 12"},
		{"no runner permission, organisation", &pool.GitHubError{Path: "acme", AppID: 12, Err: forbidden},
			`app-id 12: missing permission: the App needs the organisation permission "Self-hosted runners" (read and write) for organisation acme`},
		{"no runner permission, repository", &pool.GitHubError{Path: "acme/web", AppID: 12, Err: forbidden},
			`app-id 12: missing permission: the App needs the repository permission "Administration" (read and write) for repository acme/web`},
		{"an enterprise token without the scope", &pool.GitHubError{Path: "enterprise:acme-corp", Err: &github.APIError{StatusCode: 403, Kind: github.ErrForbidden}},
			"token: missing permission: the token needs the manage_runners:enterprise scope for enterprise acme-corp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := pool.Classify(fmt.Errorf("cannot list runners: %w", tt.err))
			assert.Equal(t, pool.Block, v.Kind)
			assert.Equal(t, tt.want, v.Message)
		})
	}
	// A network failure while buying a token is a passing fault.
	v := pool.Classify(&pool.GitHubError{Path: "acme", AppID: 12, Err: &github.InstallationTokenError{Err: errors.New("connection refused")}})
	assert.Equal(t, pool.Retry, v.Kind)
}
