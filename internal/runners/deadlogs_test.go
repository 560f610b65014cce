package runners_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/runners"
)

// Before a dead runner's instance is deleted, its start script's log and
// the runner application's _diag folder are copied to the unit, private.
func TestDeadRunnersLogsAreKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	dir := t.TempDir()
	m, _ := f.manager("deadlogs", "deadlogs/0", func(c *runners.Config) { c.StateDir = dir })
	_, err := m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	f.waitOnline(m, 1)
	name := f.instances(m)[0]

	// The runner's diagnostics, then its death.
	_, err = f.lxd.ExecInstance(f.ctx, name, lxd.ExecArgs{Command: []string{"sh", "-c",
		"mkdir -p /opt/actions-runner/_diag/pages && echo 'Runner_1.log: fatal' > /opt/actions-runner/_diag/Runner_1.log && " +
			"echo step > /opt/actions-runner/_diag/pages/1.log && echo 'stray line' >> /var/log/github-runner.log && " +
			"kill -9 $(cat /var/lib/github-runner/runner.pid); pkill -9 -f Runner.Listener; true"}})
	require.NoError(t, err)

	r, err := m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	require.Len(t, r.Removed, 1)
	require.Equal(t, runners.RemovalProcessGone, r.Removed[0].Reason.Kind)

	kept := filepath.Join(dir, runners.DeadRunnerLogsDir, name)
	log, err := os.ReadFile(filepath.Join(kept, "github-runner.log"))
	require.NoError(t, err)
	require.Contains(t, string(log), "stray line")
	diag, err := os.ReadFile(filepath.Join(kept, "_diag", "Runner_1.log"))
	require.NoError(t, err)
	require.Equal(t, "Runner_1.log: fatal\n", string(diag))
	_, err = os.Stat(filepath.Join(kept, "_diag", "pages", "1.log"))
	require.NoError(t, err)
	for _, p := range []string{filepath.Join(dir, runners.DeadRunnerLogsDir), kept} {
		info, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), info.Mode().Perm(), p)
	}
	info, err := os.Stat(filepath.Join(kept, "github-runner.log"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	logs, err := runners.DeadRunnerLogs(dir)
	require.NoError(t, err)
	require.Len(t, logs, 1)
	require.Equal(t, name, logs[0].Runner)
	require.NotContains(t, strings.Join(f.instances(m), ","), name, "the instance went all the same")
}

func TestDeadRunnerLogsArePruned(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	mk := func(name string, age time.Duration, size int) {
		d := filepath.Join(dir, runners.DeadRunnerLogsDir, name)
		require.NoError(t, os.MkdirAll(d, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(d, "github-runner.log"), make([]byte, size), 0o600))
		require.NoError(t, os.Chtimes(d, now.Add(-age), now.Add(-age)))
	}
	mk("old", 8*24*time.Hour, 10)
	mk("newest", time.Minute, 600)
	mk("middle", time.Hour, 300)
	mk("oldest-fitting", 2*time.Hour, 50)
	require.NoError(t, runners.PruneDeadRunnerLogs(dir, now, 7*24*time.Hour, 1000))
	logs, err := runners.DeadRunnerLogs(dir)
	require.NoError(t, err)
	var names []string
	for _, l := range logs {
		names = append(names, l.Runner)
	}
	require.Equal(t, []string{"newest", "middle", "oldest-fitting"}, names)

	require.NoError(t, runners.PruneDeadRunnerLogs(dir, now, 7*24*time.Hour, 700))
	logs, err = runners.DeadRunnerLogs(dir)
	require.NoError(t, err)
	require.Len(t, logs, 1, "past the budget, everything older goes")
	require.Equal(t, "newest", logs[0].Runner)
}
