package jujutest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju/jujutest"
)

// A consumer keeps the revision it first read; --peek shows the newest
// without moving, --refresh shows it and moves (juju.md, "Secrets").
func TestSecretRevisionTracking(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, scriptedDispatch, jujutest.Options{})
	uri := s.AddSecret(map[string]string{"token": "one"}, jujutest.SecretOptions{Granted: true})
	get := func(args ...string) string {
		t.Helper()
		var out string
		_, err := s.InContext(ctx, "hooks/update-status", nil, func(env []string) error {
			got, err := runTool(ctx, s, env, "", "secret-get", append([]string{uri, "token"}, args...)...)
			require.NoError(t, err)
			require.Equal(t, 0, got.code, got.stderr)
			out = strings.TrimSpace(got.stdout)
			return nil
		})
		require.NoError(t, err)
		return out
	}
	assert.Equal(t, "one", get())
	assert.Equal(t, 1, s.TrackedRevision(uri))
	require.NoError(t, s.UpdateSecret(uri, map[string]string{"token": "two"}))
	assert.Equal(t, "one", get(), "a consumer keeps its revision")
	assert.Equal(t, "two", get("--peek"))
	assert.Equal(t, "one", get(), "--peek does not move")
	assert.Equal(t, "two", get("--refresh"))
	assert.Equal(t, "two", get())
	assert.Equal(t, 2, s.TrackedRevision(uri))
}

// A unit's own secrets: secret-add (--owner unit, --label, --file),
// secret-get by label, secret-set, secret-ids, secret-remove; kept only
// when the hook succeeds.
func TestUnitOwnedSecrets(t *testing.T) {
	ctx := testContext(t)
	s := startSim(t, scriptedDispatch, jujutest.Options{})
	file := filepath.Join(t.TempDir(), "content.yaml")
	require.NoError(t, os.WriteFile(file, []byte("token: ghp_first\n"), 0o600))

	var uri string
	_, err := s.InContext(ctx, "hooks/install", nil, func(env []string) error {
		got, err := runTool(ctx, s, env, "", "secret-add", "--owner", "unit", "--label", "creds", "--file", file)
		require.NoError(t, err)
		require.Equal(t, 0, got.code, got.stderr)
		uri = strings.TrimSpace(got.stdout)
		require.True(t, strings.HasPrefix(uri, "secret:"), uri)
		got, err = runTool(ctx, s, env, "", "secret-get", "--label", "creds", "--format=json")
		require.NoError(t, err)
		assert.Equal(t, `{"token":"ghp_first"}`+"\n", got.stdout, "the hook sees its own secret")
		got, err = runTool(ctx, s, env, "", "secret-add", "--owner", "unit", "--label", "creds", "token=x")
		require.NoError(t, err)
		assert.Equal(t, 1, got.code)
		assert.Contains(t, got.stderr, "already exists")
		got, err = runTool(ctx, s, env, "", "secret-add", "--owner", "unit", "ab=x")
		require.NoError(t, err)
		assert.Equal(t, 2, got.code, "keys are at least three characters")
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]string{uri: {"token": "ghp_first"}}, s.OwnedSecrets())

	// A failed action's changes are dropped, as a failed hook's.
	run, err := s.InContext(ctx, "actions/rotate", nil, func(env []string) error {
		got, err := runTool(ctx, s, env, "", "secret-set", uri, "--file", file, "token=ghp_lost")
		require.NoError(t, err)
		require.Equal(t, 0, got.code, got.stderr)
		return errors.New("the action fails")
	})
	require.NoError(t, err)
	require.Equal(t, 1, run.ExitCode)
	assert.Equal(t, map[string]map[string]string{uri: {"token": "ghp_first"}}, s.OwnedSecrets())

	_, err = s.InContext(ctx, "hooks/config-changed", nil, func(env []string) error {
		require.NoError(t, os.WriteFile(file, []byte("token: ghp_second\n"), 0o600))
		got, err := runTool(ctx, s, env, "", "secret-set", uri, "--file", file)
		require.NoError(t, err)
		require.Equal(t, 0, got.code, got.stderr)
		got, err = runTool(ctx, s, env, "", "secret-ids", "--format=json")
		require.NoError(t, err)
		assert.Equal(t, `["`+uri+`"]`+"\n", got.stdout)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]string{uri: {"token": "ghp_second"}}, s.OwnedSecrets())

	_, err = s.InContext(ctx, "hooks/remove", nil, func(env []string) error {
		got, err := runTool(ctx, s, env, "", "secret-remove", uri)
		require.NoError(t, err)
		require.Equal(t, 0, got.code, got.stderr)
		return nil
	})
	require.NoError(t, err)
	assert.Empty(t, s.OwnedSecrets())
}
