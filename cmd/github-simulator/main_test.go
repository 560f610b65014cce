package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runMainEnv makes the test binary act as the command, so the test can run
// it as a process.
const runMainEnv = "GITHUB_SIMULATOR_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tokenFile := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(tokenFile, []byte("# test tokens\nghp_file repo\n\nghp_all\n"), 0o600))

	cmd := exec.CommandContext(ctx, os.Args[0], "--listen", "127.0.0.1:0", "--org", "acme", "--repo", "acme/website",
		"--enterprise", "acme-corp:acme", "--token", "ghp_flag:admin:org", "--token", "ghp_ent:manage_runners:enterprise",
		"--token-file", tokenFile)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill() //nolint:errcheck // best effort
			cmd.Wait()         //nolint:errcheck // killed
		}
	})

	// The first line is the URL; the read ends with the process at the latest.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "stderr: %s", stderr.String())
	url := strings.TrimSpace(line)
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/$`, url)

	get := func(path, token string) int {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, get("orgs/acme/actions/runners", "ghp_flag"))
	assert.Equal(t, http.StatusForbidden, get("repos/acme/website/actions/runners", "ghp_flag"), "admin:org only")
	assert.Equal(t, http.StatusOK, get("repos/acme/website/actions/runners", "ghp_file"))
	assert.Equal(t, http.StatusForbidden, get("orgs/acme/actions/runners", "ghp_file"))
	assert.Equal(t, http.StatusOK, get("orgs/acme/actions/runners", "ghp_all"), "no scopes listed means all")
	assert.Equal(t, http.StatusUnauthorized, get("orgs/acme/actions/runners", "ghp_other"))
	assert.Equal(t, http.StatusOK, get("enterprises/acme-corp/actions/runners", "ghp_ent"))
	assert.Equal(t, http.StatusForbidden, get("enterprises/acme-corp/actions/runners", "ghp_all"))

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "stderr: %s", stderr.String())
	assert.Contains(t, stderr.String(), "github simulator stopping")
	assert.NotContains(t, stderr.String(), "ghp_", "tokens stay out of the log")
}

// syncBuffer is a strings.Builder safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFlagErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"stray argument", []string{"serve"}, "unexpected arguments"},
		{"missing token file", []string{"--token-file", filepath.Join(t.TempDir(), "none")}, "cannot read token file"},
		{"bad listen address", []string{"--listen", "127.0.0.1:notaport"}, "cannot listen"},
		{"bad enterprise", []string{"--enterprise", "a/b"}, "invalid enterprise slug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestReadTokenFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(path, []byte("a admin:org,repo\n  b   none\nc\n"), 0o600))
	got := map[string][]string{}
	require.NoError(t, readTokenFile(path, got))
	assert.Equal(t, map[string][]string{
		"a": {"admin:org", "repo"},
		"b": nil,
		"c": {"admin:org", "repo"},
	}, got)

	require.NoError(t, os.WriteFile(path, []byte("a b c\n"), 0o600))
	assert.ErrorContains(t, readTokenFile(path, map[string][]string{}), "line 1")
}
