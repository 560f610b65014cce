package lxd_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

// execLogs lists the recorded exec outputs left in an instance's log
// directory (the package has no API for this: it is an implementation trace).
func execLogs(t *testing.T, c *lxd.Client, name string) []string {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t, 10*time.Second), http.MethodGet, "http://lxd/1.0/instances/"+name+"/logs", nil)
	require.NoError(t, err)
	resp, err := lxdtest.HTTPClient(c.Socket()).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var env struct {
		Metadata []string `json:"metadata"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	var out []string
	for _, p := range env.Metadata {
		if strings.Contains(p, "/exec_") {
			out = append(out, p)
		}
	}
	return out
}

func TestExec(t *testing.T) {
	t.Parallel()
	c := connect(t)
	name := launch(t, c, "exec")
	ctx := testCtx(t, time.Minute)

	tests := []struct {
		name           string
		args           lxd.ExecArgs
		code           int
		stdout, stderr string
	}{{
		name:   "output, exit status and environment",
		args:   lxd.ExecArgs{Command: []string{"sh", "-c", `echo "out $GREETING"; echo "err" >&2; exit 3`}, Environment: map[string]string{"GREETING": "hello world"}},
		code:   3,
		stdout: "out hello world\n",
		stderr: "err\n",
	}, {
		name:   "user, group and working directory",
		args:   lxd.ExecArgs{Command: []string{"sh", "-c", "id -u; id -g; pwd"}, User: 1000, Group: 1000, Cwd: "/home/ubuntu"},
		stdout: "1000\n1000\n/home/ubuntu\n",
	}, {
		name:   "root by default",
		args:   lxd.ExecArgs{Command: []string{"id", "-u"}},
		stdout: "0\n",
	}, {
		name:   "binary output is kept",
		args:   lxd.ExecArgs{Command: []string{"printf", `a\000b\377`}},
		stdout: "a\x00b\xff",
	}, {
		name: "no output",
		args: lxd.ExecArgs{Command: []string{"false"}},
		code: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.ExecInstance(ctx, name, tt.args)
			require.NoError(t, err)
			require.Equal(t, tt.code, res.ExitCode)
			require.Equal(t, tt.stdout, string(res.Stdout))
			require.Equal(t, tt.stderr, string(res.Stderr))
		})
	}

	// A command LXD cannot run is an error, not an exit status.
	_, err := c.ExecInstance(ctx, name, lxd.ExecArgs{Command: []string{"/no/such/command"}})
	var oe *lxd.OperationError
	require.ErrorAs(t, err, &oe)
	require.ErrorContains(t, err, "/no/such/command")

	_, err = c.ExecInstance(ctx, name, lxd.ExecArgs{})
	require.ErrorContains(t, err, "empty command")

	// Every recorded output was deleted after reading.
	require.Empty(t, execLogs(t, c, name))
}

func TestExecCancelledByContext(t *testing.T) {
	t.Parallel()
	c := connect(t)
	name := launch(t, c, "exec-cancel")

	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ExecInstance(ctx, name, lxd.ExecArgs{Command: []string{"sleep", "30"}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)

	// Cancelled before it starts.
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	_, err = c.ExecInstance(ctx, name, lxd.ExecArgs{Command: []string{"true"}})
	require.ErrorIs(t, err, context.Canceled)
}

func TestExecNotRunning(t *testing.T) {
	t.Parallel()
	c := connect(t)
	req := newInstance(t, c, "exec-stopped")
	ctx := testCtx(t, time.Minute)
	op, err := c.CreateInstance(ctx, req)
	require.NoError(t, err)
	require.NoError(t, op.Wait(ctx))

	_, err = c.ExecInstance(ctx, req.Name, lxd.ExecArgs{Command: []string{"true"}})
	var se *lxd.StatusError
	require.ErrorAs(t, err, &se)
	require.NotErrorIs(t, err, lxd.ErrNotFound)

	// Readiness gives up with the context, saying why.
	short, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	err = c.WaitInstanceReady(short, req.Name)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorAs(t, err, &se, "the last failure is kept")

	// And succeeds once the instance runs.
	require.NoError(t, c.StartInstance(ctx, req.Name))
	require.NoError(t, c.WaitInstanceReady(ctx, req.Name))
}

// TestExecDetachedProcessSurvives checks the pattern used to start a runner:
// a short exec that backgrounds a process with setsid, with a secret in the
// environment only.
func TestExecDetachedProcessSurvives(t *testing.T) {
	t.Parallel()
	c := connect(t)
	name := launch(t, c, "exec-detach")
	ctx := testCtx(t, time.Minute)
	const secret = "s3cr3t-jit-config-value"

	script := "#!/bin/sh\n" +
		"echo $$ > /home/ubuntu/worker.pid\n" +
		"printf '%s' \"$RUNNER_SECRET\" > /home/ubuntu/secret-seen\n" +
		"while :; do sleep 1; done\n"
	require.NoError(t, c.CreateInstanceFile(ctx, name, "/home/ubuntu/start.sh", lxd.InstanceFileArgs{
		Content: strings.NewReader(script), UID: 1000, GID: 1000, Mode: 0o700,
	}))

	start := time.Now()
	res, err := c.ExecInstance(ctx, name, lxd.ExecArgs{
		Command:     []string{"sh", "-c", "setsid sh /home/ubuntu/start.sh </dev/null >/home/ubuntu/worker.log 2>&1 &"},
		Environment: map[string]string{"RUNNER_SECRET": secret},
		User:        1000, Group: 1000, Cwd: "/home/ubuntu",
	})
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode)
	require.Less(t, time.Since(start), 5*time.Second, "the exec must not wait for the detached process")

	// Poll (with the test's deadline) until the worker has written its pid.
	var pid string
	poll(t, ctx, "the detached worker's pid", func() bool {
		res, err := c.ExecInstance(ctx, name, lxd.ExecArgs{Command: []string{"cat", "/home/ubuntu/worker.pid"}})
		require.NoError(t, err)
		pid = strings.TrimSpace(string(res.Stdout))
		return pid != ""
	})

	// The exec has returned; the worker lives on, in its own session, with
	// the secret from its environment and not in any argv.
	mustExec(t, c, name, lxd.ExecArgs{Command: []string{"kill", "-0", pid}})
	stat := mustExec(t, c, name, lxd.ExecArgs{Command: []string{"cat", "/proc/" + pid + "/stat"}})
	fields := strings.Fields(stat[strings.LastIndex(stat, ")")+1:])
	require.Equal(t, pid, fields[3], "the worker leads its own session (setsid)")
	seen, _ := readFile(t, c, name, "/home/ubuntu/secret-seen")
	require.Equal(t, secret, string(seen))
	cmdlines := mustExec(t, c, name, lxd.ExecArgs{Command: []string{"sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\000' ' '"}})
	require.NotContains(t, cmdlines, secret)
	require.Contains(t, cmdlines, "/home/ubuntu/start.sh")
}
