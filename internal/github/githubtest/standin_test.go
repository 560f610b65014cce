package githubtest_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

// busyboxPath returns a directory of busybox applet links and bash, so that
// the stand-in runner's scripts run with busybox's tools only, as in the
// test image (which has bash-static for the runner's bash scripts). Without
// busybox the test fails under CI=true and skips elsewhere.
func busyboxPath(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		msg := "busybox is not installed (scripts/lxd-up.sh installs busybox-static)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	out, err := exec.Command(bb, "--list").Output()
	require.NoError(t, err)
	dir := t.TempDir()
	for _, applet := range strings.Fields(string(out)) {
		require.NoError(t, os.Symlink(bb, filepath.Join(dir, applet)))
	}
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	require.NoError(t, os.Symlink(bash, filepath.Join(dir, "bash")))
	return dir
}

// hostRunner is the stand-in runner unpacked in a directory of this machine.
type hostRunner struct {
	t    *testing.T
	dir  string
	path string // busybox applets
	tmp  string
}

func unpackRunner(t *testing.T, srv *githubtest.Server, bbPath string) *hostRunner {
	t.Helper()
	_, data, err := srv.RunnerArchive("linux", "x64")
	require.NoError(t, err)
	base := t.TempDir()
	h := &hostRunner{t: t, dir: filepath.Join(base, "actions-runner"), path: bbPath, tmp: filepath.Join(base, "tmp")}
	require.NoError(t, os.MkdirAll(h.dir, 0o755))
	require.NoError(t, os.MkdirAll(h.tmp, 0o700))
	archive := filepath.Join(base, "runner.tar.gz")
	require.NoError(t, os.WriteFile(archive, data, 0o644))
	h.run(nil, "tar", "-xzf", archive, "-C", h.dir)
	return h
}

func (h *hostRunner) env(extra map[string]string) []string {
	u, err := user.Current()
	require.NoError(h.t, err)
	env := []string{"PATH=" + h.path, "HOME=" + h.tmp, "TMPDIR=" + h.tmp, "USER=" + u.Username}
	if os.Getuid() == 0 {
		// The real runner's documented way to run as root (run-helper.sh).
		env = append(env, "RUNNER_ALLOW_RUNASROOT=1")
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// run runs a command to its end and returns its output; it must succeed.
func (h *hostRunner) run(env map[string]string, args ...string) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(h.path, args[0]), args[1:]...)
	cmd.Dir = h.dir
	cmd.Env = h.env(env)
	out, err := cmd.CombinedOutput()
	require.NoError(h.t, err, "%q: %s", args, out)
	return string(out)
}

// process is a started run.sh.
type process struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

// start starts `bash ./run.sh args...` in its own process group, killed
// when the test ends.
func (h *hostRunner) start(env map[string]string, args ...string) *process {
	h.t.Helper()
	cmd := exec.Command(filepath.Join(h.path, "bash"), append([]string{"./run.sh"}, args...)...)
	cmd.Dir = h.dir
	cmd.Env = h.env(env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &process{cmd: cmd, out: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoError(h.t, cmd.Start())
	go func() {
		cmd.Wait() //nolint:errcheck // the exit code is read from ProcessState
		close(p.done)
	}()
	h.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // best effort
			<-p.done
		}
	})
	return p
}

// wait waits for run.sh to exit and returns its exit code.
func (p *process) wait(t *testing.T, ctx context.Context) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-ctx.Done():
		t.Fatalf("run.sh did not exit; output:\n%s", p.out)
		return -1
	}
}

// cmdlines returns the command lines of the processes in a process group.
func cmdlines(t *testing.T, pgid int) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err != nil || g != pgid {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		out = append(out, strings.ReplaceAll(strings.TrimRight(string(raw), "\x00"), "\x00", " "))
	}
	return out
}

func TestStandInRunnerUnderBusybox(t *testing.T) {
	t.Parallel()
	bb := busyboxPath(t)

	t.Run("JIT configuration from the environment", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, githubtest.Options{})
		ctx := testContext(t, 45*time.Second)
		h := unpackRunner(t, srv, bb)
		j := jit(t, srv, "orgs/acme", "host-jit", "busybox")
		p := h.start(map[string]string{"ACTIONS_RUNNER_INPUT_JITCONFIG": j.EncodedJITConfig})

		r, err := srv.WaitForRunner(ctx, "acme", "host-jit", online)
		require.NoError(t, err, "output:\n%s", p.out)
		assert.Equal(t, githubtest.DefaultRunnerVersion, r.Version)
		lines := cmdlines(t, p.cmd.Process.Pid)
		assert.True(t, containsAny(lines, "bin/Runner.Listener run"), "a Runner.Listener process: %q", lines)
		for _, l := range lines {
			assert.NotContains(t, l, j.EncodedJITConfig, "the JIT configuration is on a command line")
		}

		id := srv.QueueJob([]string{"self-hosted", "busybox"}, time.Second)
		job, err := srv.WaitForJob(ctx, id, githubtest.JobCompleted)
		require.NoError(t, err)
		assert.Equal(t, githubtest.ConclusionSuccess, job.Conclusion)
		assert.Equal(t, 0, p.wait(t, ctx), "output:\n%s", p.out)
		_, ok := srv.RunnerByName("acme", "host-jit")
		assert.False(t, ok)
		assert.Contains(t, p.out.String(), "Job 1 completed with result: Succeeded")
	})

	t.Run("JIT configuration as an argument stays off the listener's command line", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, githubtest.Options{})
		ctx := testContext(t, 45*time.Second)
		h := unpackRunner(t, srv, bb)
		j := jit(t, srv, "repos/acme/website", "host-arg", "x")
		p := h.start(nil, "--jitconfig", j.EncodedJITConfig)
		_, err := srv.WaitForRunner(ctx, "acme/website", "host-arg", online)
		require.NoError(t, err, "output:\n%s", p.out)
		for _, l := range cmdlines(t, p.cmd.Process.Pid) {
			if strings.Contains(l, "Runner.Listener") || strings.Contains(l, "wget") {
				assert.NotContains(t, l, j.EncodedJITConfig)
			}
		}

		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		assert.Equal(t, 0, p.wait(t, ctx), "output:\n%s", p.out)
		r, ok := srv.RunnerByName("acme/website", "host-arg")
		require.True(t, ok)
		assert.Equal(t, "offline", r.Status, "a stopped listener closes its session")
	})

	t.Run("config.sh, run.sh and config.sh remove", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, githubtest.Options{})
		ctx := testContext(t, 45*time.Second)
		_, err := srv.AddRunnerGroup("acme", "ci")
		require.NoError(t, err)
		h := unpackRunner(t, srv, bb)
		token := func(kind string) string {
			a := call(t, srv, http.MethodPost, "orgs/acme/actions/runners/"+kind, adminToken, nil)
			require.Equal(t, http.StatusCreated, a.Status)
			var tok struct{ Token string }
			a.json(t, &tok)
			return tok.Token
		}
		out := h.run(map[string]string{"ACTIONS_RUNNER_INPUT_TOKEN": token("registration-token")},
			"bash", "./config.sh", "--url", srv.WebURL("acme"), "--name", "host-cfg", "--labels", "a,b",
			"--runnergroup", "ci", "--work", "_work", "--unattended", "--disableupdate", "--replace")
		assert.Contains(t, out, "Settings Saved.")
		r, ok := srv.RunnerByName("acme", "host-cfg")
		require.True(t, ok)
		assert.Equal(t, []string{"self-hosted", "Linux", "X64", "a", "b"}, r.Labels)
		assert.False(t, r.Ephemeral)
		assert.FileExists(t, filepath.Join(h.dir, ".runner"))
		info, err := os.Stat(filepath.Join(h.dir, ".credentials"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

		p := h.start(nil)
		_, err = srv.WaitForRunner(ctx, "acme", "host-cfg", online)
		require.NoError(t, err, "output:\n%s", p.out)
		id := srv.QueueJob([]string{"a"}, 500*time.Millisecond)
		_, err = srv.WaitForJob(ctx, id, githubtest.JobCompleted)
		require.NoError(t, err)
		_, err = srv.WaitForRunner(ctx, "acme", "host-cfg", func(r githubtest.Runner, ok bool) bool { return ok && r.Online() && !r.Busy })
		require.NoError(t, err, "a runner that is not ephemeral stays for the next job")
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		assert.Equal(t, 0, p.wait(t, ctx))

		out = h.run(nil, "bash", "./config.sh", "remove", "--token", token("remove-token"))
		assert.Contains(t, out, "Runner removed successfully.")
		_, ok = srv.RunnerByName("acme", "host-cfg")
		assert.False(t, ok)
		assert.NoFileExists(t, filepath.Join(h.dir, ".runner"))
	})

	t.Run("an ephemeral runner from config.sh exits after its job", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, githubtest.Options{})
		ctx := testContext(t, 45*time.Second)
		h := unpackRunner(t, srv, bb)
		a := call(t, srv, http.MethodPost, "repos/acme/website/actions/runners/registration-token", adminToken, nil)
		var tok struct{ Token string }
		a.json(t, &tok)
		h.run(map[string]string{"ACTIONS_RUNNER_INPUT_TOKEN": tok.Token},
			"bash", "./config.sh", "--url", srv.WebURL("acme/website"), "--name", "host-eph", "--labels", "e", "--ephemeral", "--unattended")
		p := h.start(nil)
		_, err := srv.WaitForRunner(ctx, "acme/website", "host-eph", online)
		require.NoError(t, err, "output:\n%s", p.out)
		srv.QueueJob([]string{"e"}, 200*time.Millisecond)
		assert.Equal(t, 0, p.wait(t, ctx), "output:\n%s", p.out)
		assert.NoFileExists(t, filepath.Join(h.dir, ".runner"), "an ephemeral runner forgets its registration")
	})

	t.Run("an enterprise runner, by JIT and by config.sh", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, githubtest.Options{})
		ctx := testContext(t, 45*time.Second)
		_, err := srv.AddRunnerGroup(entPath, "shared")
		require.NoError(t, err)

		byJIT := unpackRunner(t, srv, bb)
		j := jit(t, srv, entPath, "ent-jit", "ent")
		p := byJIT.start(map[string]string{"ACTIONS_RUNNER_INPUT_JITCONFIG": j.EncodedJITConfig})
		_, err = srv.WaitForRunner(ctx, entPath, "ent-jit", online)
		require.NoError(t, err, "output:\n%s", p.out)
		id := srv.QueueJobFor("acme/website", []string{"ent"}, 200*time.Millisecond)
		job, err := srv.WaitForJob(ctx, id, githubtest.JobCompleted)
		require.NoError(t, err)
		assert.Equal(t, "ent-jit", job.RunnerName, "an enterprise runner serves its organizations' repositories")
		assert.Equal(t, 0, p.wait(t, ctx), "output:\n%s", p.out)

		byConfig := unpackRunner(t, srv, bb)
		a := call(t, srv, http.MethodPost, entPath+"/actions/runners/registration-token", entToken, nil)
		require.Equal(t, http.StatusCreated, a.Status)
		var tok struct{ Token string }
		a.json(t, &tok)
		out := byConfig.run(map[string]string{"ACTIONS_RUNNER_INPUT_TOKEN": tok.Token},
			"bash", "./config.sh", "--url", srv.WebURL(entPath), "--name", "ent-cfg", "--labels", "cfg",
			"--runnergroup", "shared", "--ephemeral", "--unattended")
		assert.Contains(t, out, "Settings Saved.")
		r, ok := srv.RunnerByName(entPath, "ent-cfg")
		require.True(t, ok)
		assert.NotEqualValues(t, 1, r.GroupID, "the runner is in the group it asked for")
		p = byConfig.start(nil)
		_, err = srv.WaitForRunner(ctx, entPath, "ent-cfg", online)
		require.NoError(t, err, "output:\n%s", p.out)
		srv.QueueJobFor("acme", []string{"cfg"}, 200*time.Millisecond)
		assert.Equal(t, 0, p.wait(t, ctx), "output:\n%s", p.out)
		_, err = srv.WaitForRunner(ctx, entPath, "ent-cfg", gone)
		require.NoError(t, err)
	})

	t.Run("run.sh without a configuration ends with 0, as the real one", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, githubtest.Options{})
		h := unpackRunner(t, srv, bb)
		p := h.start(nil)
		assert.Equal(t, 0, p.wait(t, testContext(t, 20*time.Second)))
		assert.Contains(t, p.out.String(), "Not configured")
		assert.Contains(t, p.out.String(), "Runner listener exit with terminated error")
	})
}

func containsAny(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}
