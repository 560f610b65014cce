package githubtest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

// lxdREST is a minimal client of LXD's REST API over its unix socket, enough
// for this test.
type lxdREST struct {
	t    *testing.T
	http *http.Client
}

type lxdEnvelope struct {
	Type      string          `json:"type"`
	Error     string          `json:"error"`
	ErrorCode int             `json:"error_code"`
	Operation string          `json:"operation"`
	Metadata  json.RawMessage `json:"metadata"`
}

func (c lxdREST) do(ctx context.Context, method, path string, body io.Reader, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://lxd"+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return c.http.Do(req)
}

// call sends a JSON request and returns LXD's envelope; an error answer ends
// the test.
func (c lxdREST) call(ctx context.Context, method, path string, body any) lxdEnvelope {
	c.t.Helper()
	env, err := c.try(ctx, method, path, body)
	require.NoError(c.t, err)
	return env
}

func (c lxdREST) try(ctx context.Context, method, path string, body any) (lxdEnvelope, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return lxdEnvelope{}, err
		}
		rd = bytes.NewReader(data)
	}
	resp, err := c.do(ctx, method, path, rd, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return lxdEnvelope{}, err
	}
	defer resp.Body.Close()
	var env lxdEnvelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return lxdEnvelope{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if env.Type == "error" {
		return env, fmt.Errorf("%s %s: %d %s", method, path, env.ErrorCode, env.Error)
	}
	return env, nil
}

// wait waits for an async operation and returns its metadata.
func (c lxdREST) wait(ctx context.Context, env lxdEnvelope) map[string]any {
	c.t.Helper()
	meta, err := c.tryWait(ctx, env)
	require.NoError(c.t, err)
	return meta
}

func (c lxdREST) tryWait(ctx context.Context, env lxdEnvelope) (map[string]any, error) {
	if env.Type != "async" {
		return nil, fmt.Errorf("not an operation: %s", env.Type)
	}
	timeout := 30
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(int(time.Until(dl).Seconds()), 1)
	}
	op, err := c.try(ctx, http.MethodGet, fmt.Sprintf("%s/wait?timeout=%d", env.Operation, timeout), nil)
	if err != nil {
		return nil, err
	}
	var meta struct {
		StatusCode int            `json:"status_code"`
		Err        string         `json:"err"`
		Metadata   map[string]any `json:"metadata"`
	}
	if err := json.Unmarshal(op.Metadata, &meta); err != nil {
		return nil, err
	}
	if meta.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("operation failed: %s", meta.Err)
	}
	return meta.Metadata, nil
}

// execArgs is LXD's exec request, less the fixed fields.
type execArgs struct {
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment,omitempty"`
	User        uint32            `json:"user,omitempty"`
	Group       uint32            `json:"group,omitempty"`
	Cwd         string            `json:"cwd,omitempty"`
}

// exec runs a command to its end and returns its exit code and stdout.
func (c lxdREST) exec(ctx context.Context, name string, args execArgs) (int, string, error) {
	body := map[string]any{
		"command": args.Command, "environment": args.Environment, "user": args.User, "group": args.Group,
		"record-output": true, "wait-for-websocket": false, "interactive": false,
	}
	if args.Cwd != "" {
		body["cwd"] = args.Cwd
	}
	env, err := c.try(ctx, http.MethodPost, "/1.0/instances/"+name+"/exec", body)
	if err != nil {
		return 0, "", err
	}
	meta, err := c.tryWait(ctx, env)
	if err != nil {
		return 0, "", err
	}
	code, _ := meta["return"].(float64)
	var stdout string
	if output, ok := meta["output"].(map[string]any); ok {
		if path, ok := output["1"].(string); ok {
			resp, err := c.do(ctx, http.MethodGet, path, nil, nil)
			if err == nil {
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				stdout = string(data)
			}
		}
		for _, p := range output {
			if path, ok := p.(string); ok {
				if resp, err := c.do(ctx, http.MethodDelete, path, nil, nil); err == nil {
					resp.Body.Close()
				}
			}
		}
	}
	return int(code), stdout, nil
}

func (c lxdREST) mustExec(ctx context.Context, name string, args execArgs) string {
	c.t.Helper()
	code, out, err := c.exec(ctx, name, args)
	require.NoError(c.t, err)
	require.Equal(c.t, 0, code, "%q failed: %s", args.Command, out)
	return out
}

// pushFile writes a file into the instance. The body must go as
// application/octet-stream: a form-encoded body writes an empty file.
func (c lxdREST) pushFile(ctx context.Context, name, path string, data []byte, uid, gid int, mode string) {
	c.t.Helper()
	resp, err := c.do(ctx, http.MethodPost, "/1.0/instances/"+name+"/files?path="+url.QueryEscape(path), bytes.NewReader(data), http.Header{
		"Content-Type": {"application/octet-stream"},
		"X-LXD-uid":    {strconv.Itoa(uid)},
		"X-LXD-gid":    {strconv.Itoa(gid)},
		"X-LXD-mode":   {mode},
		"X-LXD-type":   {"file"},
	})
	require.NoError(c.t, err)
	defer resp.Body.Close()
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
}

// readFile reads a file from the instance; ok is false if it does not exist.
func (c lxdREST) readFile(ctx context.Context, name, path string) ([]byte, bool) {
	c.t.Helper()
	resp, err := c.do(ctx, http.MethodGet, "/1.0/instances/"+name+"/files?path="+url.QueryEscape(path), nil, nil)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	if resp.StatusCode == http.StatusNotFound {
		return nil, false
	}
	require.Equal(c.t, http.StatusOK, resp.StatusCode, "%s", data)
	return data, true
}

// poll checks cond until it holds or ctx ends.
func poll(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// TestStandInRunnerInLXD runs the stand-in runner the way the charm runs a
// real one: in a container, unpacked as the ubuntu user under
// /opt/actions-runner, started detached with its JIT configuration only in
// the environment, reaching the simulator through a proxy device on
// 127.0.0.1.
func TestStandInRunnerInLXD(t *testing.T) {
	t.Parallel()
	sock := lxdtest.Socket(t)
	ctx := testContext(t, 60*time.Second)
	srv := newServer(t, githubtest.Options{})
	_, port, err := net.SplitHostPort(srv.Addr())
	require.NoError(t, err)
	lxc := lxdREST{t: t, http: lxdtest.HTTPClient(sock)}

	cleanupCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 30*time.Second)
	}
	// The proxy lets the container reach the simulator at the same
	// 127.0.0.1:PORT, so the JIT configuration's URL works inside.
	profile := lxdtest.UniqueName("ghsim-proxy")
	lxc.call(ctx, http.MethodPost, "/1.0/profiles", map[string]any{
		"name":        profile,
		"description": "github simulator proxy for " + t.Name(),
		"config":      map[string]string{},
		"devices":     map[string]any{"github-sim": lxdtest.LoopbackProxy(port)},
	})
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if _, err := lxc.try(ctx, http.MethodDelete, "/1.0/profiles/"+profile, nil); err != nil {
			t.Errorf("cannot delete profile %s: %v", profile, err)
		}
	})

	name := lxdtest.UniqueName("ghsim-runner")
	lxc.wait(ctx, lxc.call(ctx, http.MethodPost, "/1.0/instances", map[string]any{
		"name":     name,
		"type":     "container",
		"source":   map[string]any{"type": "image", "alias": lxdtest.Image()},
		"profiles": []string{"default", profile},
		"config":   map[string]string{"limits.memory": "128MiB", "user.github-runner-test": t.Name()},
	}))
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if env, err := lxc.try(ctx, http.MethodPut, "/1.0/instances/"+name+"/state",
			map[string]any{"action": "stop", "force": true, "timeout": 10}); err == nil {
			lxc.tryWait(ctx, env) //nolint:errcheck // it may be stopped already
		}
		env, err := lxc.try(ctx, http.MethodDelete, "/1.0/instances/"+name, nil)
		if err == nil {
			_, err = lxc.tryWait(ctx, env)
		}
		if err != nil {
			t.Errorf("cannot delete instance %s: %v", name, err)
		}
	})
	lxc.wait(ctx, lxc.call(ctx, http.MethodPut, "/1.0/instances/"+name+"/state", map[string]any{"action": "start", "timeout": 30}))

	// The container is up and reaches the simulator once a fetch works.
	probe := fmt.Sprintf("wget -q -O /dev/null http://127.0.0.1:%s/rate_limit", port)
	poll(t, ctx, "the container to reach the simulator", func() bool {
		code, _, err := lxc.exec(ctx, name, execArgs{Command: []string{"sh", "-c", probe}})
		return err == nil && code == 0
	})

	filename, archive, err := srv.RunnerArchive("linux", "x64")
	require.NoError(t, err)
	lxc.pushFile(ctx, name, "/tmp/"+filename, archive, 0, 0, "0644")
	pushed, ok := lxc.readFile(ctx, name, "/tmp/"+filename)
	require.True(t, ok)
	require.Equal(t, sha256.Sum256(archive), sha256.Sum256(pushed), "the archive arrived whole")

	const root = "/opt/actions-runner"
	lxc.mustExec(ctx, name, execArgs{Command: []string{"sh", "-c", "mkdir -p " + root + " && chown 1000:1000 " + root}})
	asUbuntu := func(env map[string]string, command ...string) execArgs {
		e := map[string]string{"HOME": "/home/ubuntu", "USER": "ubuntu", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
		for k, v := range env {
			e[k] = v
		}
		return execArgs{Command: command, Environment: e, User: 1000, Group: 1000, Cwd: root}
	}
	lxc.mustExec(ctx, name, asUbuntu(nil, "tar", "-xzf", "/tmp/"+filename, "-C", root))
	ls := lxc.mustExec(ctx, name, asUbuntu(nil, "ls", "-ln", root, root+"/bin"))
	assert.Regexp(t, `-rwxr-xr-x\s+1\s+1000\s+1000 .*run\.sh`, ls)
	assert.Contains(t, ls, "Runner.Listener")

	j := jit(t, srv, "orgs/acme", name, "lxd")
	// Detached, so the exec returns; the wrapper keeps run.sh's exit code.
	lxc.mustExec(ctx, name, asUbuntu(map[string]string{"ACTIONS_RUNNER_INPUT_JITCONFIG": j.EncodedJITConfig},
		"sh", "-c", "setsid sh -c './run.sh >/tmp/runner.log 2>&1; echo $? >/tmp/runner.exit' </dev/null >/dev/null 2>&1 &"))

	logs := func() string {
		data, _ := lxc.readFile(ctx, name, "/tmp/runner.log")
		return string(data)
	}
	r, err := srv.WaitForRunner(ctx, "acme", name, online)
	require.NoError(t, err, "runner log:\n%s", logs())
	assert.Equal(t, "Linux", r.OS)

	// Neither ps nor any process's argv shows the JIT configuration.
	ps := lxc.mustExec(ctx, name, execArgs{Command: []string{"ps", "-o", "pid,user,args"}})
	argv := lxc.mustExec(ctx, name, execArgs{Command: []string{"sh", "-c",
		`for p in /proc/[0-9]*; do tr '\0' ' ' <"$p/cmdline" 2>/dev/null; echo; done`}})
	assert.Contains(t, ps, "Runner.Listener")
	assert.Contains(t, argv, root+"/bin/Runner.Listener run")
	assert.NotContains(t, ps, j.EncodedJITConfig)
	assert.NotContains(t, argv, j.EncodedJITConfig)
	assert.Regexp(t, `\d+\s+ubuntu\s+.*Runner\.Listener`, ps, "the listener runs as ubuntu")

	id := srv.QueueJob([]string{"self-hosted", "lxd"}, time.Second)
	job, err := srv.WaitForJob(ctx, id, githubtest.JobInProgress)
	require.NoError(t, err)
	assert.Equal(t, name, job.RunnerName)
	if job, _ := srv.Job(id); job.State == githubtest.JobInProgress {
		busy, _ := srv.Runner(r.ID)
		assert.True(t, busy.Busy)
	}
	job, err = srv.WaitForJob(ctx, id, githubtest.JobCompleted)
	require.NoError(t, err)
	assert.Equal(t, githubtest.ConclusionSuccess, job.Conclusion)

	_, err = srv.WaitForRunner(ctx, "acme", name, gone)
	require.NoError(t, err, "the ephemeral runner is de-registered after its job")
	var exit string
	poll(t, ctx, "run.sh to exit", func() bool {
		data, ok := lxc.readFile(ctx, name, "/tmp/runner.exit")
		exit = strings.TrimSpace(string(data))
		return ok && exit != ""
	})
	assert.Equal(t, "0", exit, "run.sh's exit code; runner log:\n%s", logs())
	assert.Contains(t, logs(), "Job 1 completed with result: Succeeded")
}
