package githubtest_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

// The stand-in's lifecycle, as actions/runner's run.sh and
// run-helper.sh.template make the real one's: which listener exit codes
// relaunch it, which end run.sh and with what code, the update path, the
// retry during an outage and the job steps that use the environment.
func TestStandInRunnerLifecycle(t *testing.T) {
	t.Parallel()
	bb := busyboxPath(t)

	startJIT := func(t *testing.T, srv *githubtest.Server, name string, env map[string]string) (*hostRunner, *process, githubtest.Runner) {
		t.Helper()
		h := unpackRunner(t, srv, bb)
		j := jit(t, srv, "orgs/acme", name, "life")
		if env == nil {
			env = map[string]string{}
		}
		env["ACTIONS_RUNNER_INPUT_JITCONFIG"] = j.EncodedJITConfig
		p := h.start(env)
		r, err := srv.WaitForRunner(testContext(t, 30*time.Second), "acme", name, online)
		require.NoError(t, err, "output:\n%s", p.out)
		return h, p, r
	}

	for _, c := range []struct {
		code, want int
		env        map[string]string
	}{
		{code: 1, want: 0},
		{code: 5, want: 0},
		{code: 7, want: 0},
		{code: 7, want: 7, env: map[string]string{"ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE": "1"}},
		{code: 42, want: 0},
	} {
		t.Run("listener exit "+strconv.Itoa(c.code)+" ends run.sh with "+strconv.Itoa(c.want), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, githubtest.Options{})
			_, p, r := startJIT(t, srv, "exit-"+strconv.Itoa(c.code)+"-"+strconv.Itoa(c.want), c.env)
			require.NoError(t, srv.ExitListener(r.ID, c.code))
			assert.Equal(t, c.want, p.wait(t, testContext(t, 30*time.Second)), "output:\n%s", p.out)
			assert.Contains(t, p.out.String(), "Exiting runner...")
		})
	}

	t.Run("listener exit 2 relaunches it and the runner serves a job", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, githubtest.Options{})
		ctx := testContext(t, 45*time.Second)
		_, p, r := startJIT(t, srv, "exit-2", nil)
		require.NoError(t, srv.ExitListener(r.ID, 2))
		require.NoError(t, srv.WaitFor(ctx, func() bool {
			return containsAny([]string{p.out.String()}, "Restarting runner...")
		}))
		_, err := srv.WaitForRunner(ctx, "acme", "exit-2", online)
		require.NoError(t, err, "output:\n%s", p.out)
		id := srv.QueueJob([]string{"life"}, 200*time.Millisecond)
		job, err := srv.WaitForJob(ctx, id, githubtest.JobCompleted)
		require.NoError(t, err)
		assert.Equal(t, githubtest.ConclusionSuccess, job.Conclusion, "%s", job.Failure)
		assert.Equal(t, 0, p.wait(t, ctx), "output:\n%s", p.out)
	})

	t.Run("an offered update is installed and the new version serves a job", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, githubtest.Options{})
		ctx := testContext(t, 60*time.Second)
		h, p, r := startJIT(t, srv, "updating", nil)
		require.Equal(t, githubtest.DefaultRunnerVersion, r.Version)
		require.NoError(t, srv.OfferRunnerUpdate("2.999.0"))
		r, err := srv.WaitForRunner(ctx, "acme", "updating", func(r githubtest.Runner, ok bool) bool {
			return ok && r.Online() && r.Version == "2.999.0"
		})
		require.NoError(t, err, "output:\n%s", p.out)
		assert.Equal(t, "2.999.0", r.Version)
		assert.Contains(t, p.out.String(), "Update finished successfully.")
		env, err := os.ReadFile(filepath.Join(h.dir, "bin", "standin.env"))
		require.NoError(t, err)
		assert.Contains(t, string(env), "RUNNER_VERSION=2.999.0")
		id := srv.QueueJob([]string{"life"}, 200*time.Millisecond)
		job, err := srv.WaitForJob(ctx, id, githubtest.JobCompleted)
		require.NoError(t, err)
		assert.Equal(t, githubtest.ConclusionSuccess, job.Conclusion, "%s", job.Failure)
		assert.Equal(t, 0, p.wait(t, ctx), "output:\n%s", p.out)
	})

	t.Run("the listener retries through an outage and comes back online", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, githubtest.Options{OfflineAfter: 2 * time.Second, PollTimeout: time.Second})
		ctx := testContext(t, 60*time.Second)
		_, p, r := startJIT(t, srv, "outage", nil)
		stop := srv.InjectFault(githubtest.Fault{Path: "/_runner/*", Drop: true})
		_, err := srv.WaitForRunner(ctx, "acme", "outage", func(r githubtest.Runner, ok bool) bool { return ok && !r.Online() })
		require.NoError(t, err)
		// Well past the 30 failures after which the old stand-in gave up.
		require.NoError(t, srv.WaitFor(ctx, func() bool { return strings.Contains(p.out.String(), "Retrying until reconnected.") }))
		stop()
		back, err := srv.WaitForRunner(ctx, "acme", "outage", online)
		require.NoError(t, err, "output:\n%s", p.out)
		assert.Equal(t, r.ID, back.ID, "the same runner comes back")
		select {
		case <-p.done:
			t.Fatalf("run.sh ended during the outage:\n%s", p.out)
		default:
		}
		assert.Contains(t, p.out.String(), "Runner reconnected.")
	})

	t.Run("a job fails visibly when HOME is not writable", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, githubtest.Options{})
		ctx := testContext(t, 45*time.Second)
		home := filepath.Join(t.TempDir(), "missing", "home")
		require.NoError(t, os.MkdirAll(filepath.Dir(home), 0o500))
		if os.Getuid() == 0 {
			// root writes anywhere: make HOME a file instead.
			require.NoError(t, os.WriteFile(home, nil, 0o400))
		}
		_, p, _ := startJIT(t, srv, "bad-home", map[string]string{"HOME": home})
		id := srv.QueueJob([]string{"life"}, 200*time.Millisecond)
		job, err := srv.WaitForJob(ctx, id, githubtest.JobCompleted)
		require.NoError(t, err)
		assert.Equal(t, githubtest.ConclusionFailure, job.Conclusion)
		assert.Contains(t, job.Failure, "cannot write under HOME="+home)
		assert.Equal(t, 0, p.wait(t, ctx), "output:\n%s", p.out)
	})

	t.Run("run.sh refuses root without RUNNER_ALLOW_RUNASROOT", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("needs root to check the refusal")
		}
		t.Parallel()
		srv := newServer(t, githubtest.Options{})
		h := unpackRunner(t, srv, bb)
		j := jit(t, srv, "orgs/acme", "as-root", "life")
		p := h.start(map[string]string{"ACTIONS_RUNNER_INPUT_JITCONFIG": j.EncodedJITConfig, "RUNNER_ALLOW_RUNASROOT": ""})
		assert.Equal(t, 0, p.wait(t, testContext(t, 20*time.Second)))
		assert.Contains(t, p.out.String(), "Must not run interactively with sudo")
	})
}
