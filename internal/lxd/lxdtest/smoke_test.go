package lxdtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd/lxdtest"
)

// envelope is LXD's response wrapper.
type envelope struct {
	Type       string          `json:"type"`
	StatusCode int             `json:"status_code"`
	Error      string          `json:"error"`
	Operation  string          `json:"operation"`
	Metadata   json.RawMessage `json:"metadata"`
}

type rawClient struct {
	t    *testing.T
	http *http.Client
}

func (c rawClient) call(ctx context.Context, method, path string, body any) envelope {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://lxd"+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var env envelope
	require.NoError(c.t, json.NewDecoder(resp.Body).Decode(&env))
	require.NotEqual(c.t, "error", env.Type, "%s %s: %s", method, path, env.Error)
	return env
}

// wait waits for an async operation and returns its metadata.
func (c rawClient) wait(ctx context.Context, env envelope) map[string]any {
	c.t.Helper()
	require.Equal(c.t, "async", env.Type)
	op := c.call(ctx, http.MethodGet, env.Operation+"/wait?timeout=60", nil)
	var meta struct {
		StatusCode int            `json:"status_code"`
		Err        string         `json:"err"`
		Metadata   map[string]any `json:"metadata"`
	}
	require.NoError(c.t, json.Unmarshal(op.Metadata, &meta))
	require.Equal(c.t, 200, meta.StatusCode, "operation failed: %s", meta.Err)
	return meta.Metadata
}

func TestSmokeContainerLifecycle(t *testing.T) {
	sock := lxdtest.Socket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := rawClient{t: t, http: lxdtest.HTTPClient(sock)}

	var server struct {
		APIVersion  string `json:"api_version"`
		Environment struct {
			ServerVersion string `json:"server_version"`
			Driver        string `json:"driver"`
		} `json:"environment"`
	}
	require.NoError(t, json.Unmarshal(c.call(ctx, http.MethodGet, "/1.0", nil).Metadata, &server))
	require.Equal(t, "1.0", server.APIVersion)
	t.Logf("LXD %s, drivers %s", server.Environment.ServerVersion, server.Environment.Driver)

	name := lxdtest.UniqueName("smoke")
	t.Cleanup(func() {
		// Best effort: the instance is gone already when the test passed.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://lxd/1.0/instances/"+name+"/state",
			strings.NewReader(`{"action":"stop","force":true}`))
		if resp, err := c.http.Do(req); err == nil {
			resp.Body.Close()
		}
		req, _ = http.NewRequestWithContext(ctx, http.MethodDelete, "http://lxd/1.0/instances/"+name, nil)
		if resp, err := c.http.Do(req); err == nil {
			resp.Body.Close()
		}
	})

	c.wait(ctx, c.call(ctx, http.MethodPost, "/1.0/instances", map[string]any{
		"name":   name,
		"type":   "container",
		"source": map[string]any{"type": "image", "alias": lxdtest.Image()},
		"config": map[string]string{"user.smoke": "yes", "limits.memory": "128MiB"},
	}))
	c.wait(ctx, c.call(ctx, http.MethodPut, "/1.0/instances/"+name+"/state", map[string]any{"action": "start", "timeout": 30}))

	meta := c.wait(ctx, c.call(ctx, http.MethodPost, "/1.0/instances/"+name+"/exec", map[string]any{
		"command":            []string{"sh", "-c", `echo "hello $GREETING"; exit 3`},
		"environment":        map[string]string{"GREETING": "from lxd"},
		"record-output":      true,
		"wait-for-websocket": false,
		"interactive":        false,
	}))
	require.EqualValues(t, 3, meta["return"])
	output := meta["output"].(map[string]any)
	stdoutPath := output["1"].(string)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://lxd"+stdoutPath, nil)
	require.NoError(t, err)
	resp, err := c.http.Do(req)
	require.NoError(t, err)
	stdout, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, "hello from lxd\n", string(stdout))

	c.wait(ctx, c.call(ctx, http.MethodPut, "/1.0/instances/"+name+"/state", map[string]any{"action": "stop", "force": true, "timeout": 30}))
	c.wait(ctx, c.call(ctx, http.MethodDelete, "/1.0/instances/"+url.PathEscape(name), nil))

	req, err = http.NewRequestWithContext(ctx, http.MethodGet, "http://lxd/1.0/instances/"+name, nil)
	require.NoError(t, err)
	resp, err = c.http.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, fmt.Sprintf("instance %s still exists", name))
}
