package lxd_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

// testLogger writes the client's warnings to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// connect returns a client of the test daemon (or skips/fails, see lxdtest).
func connect(t *testing.T) *lxd.Client {
	t.Helper()
	return lxdtest.Client(t)
}

// testCtx returns a context ending with the test or after d.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// cleanupCtx is for t.Cleanup functions, which run after t.Context() ended.
func cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

// newInstance returns a creation request for a container of the test image
// with a unique name, removed when the test ends.
func newInstance(t *testing.T, c *lxd.Client, prefix string) lxd.InstancesPost {
	t.Helper()
	name := lxdtest.UniqueName(prefix)
	lxdtest.RemoveInstanceLater(t, c, name)
	return lxd.InstancesPost{
		Name:   name,
		Type:   lxd.InstanceTypeContainer,
		Source: lxd.LocalImage(lxdtest.Image()),
		InstancePut: lxd.InstancePut{
			Config: map[string]string{"limits.memory": "128MiB"},
		},
	}
}

// launch starts a container of the test image and returns its name.
func launch(t *testing.T, c *lxd.Client, prefix string) string {
	t.Helper()
	req := newInstance(t, c, prefix)
	require.NoError(t, c.LaunchInstance(testCtx(t, time.Minute), req))
	return req.Name
}

// mustExec runs a command that must succeed and returns its stdout.
func mustExec(t *testing.T, c *lxd.Client, name string, args lxd.ExecArgs) string {
	t.Helper()
	res, err := c.ExecInstance(testCtx(t, 30*time.Second), name, args)
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, "%v: stdout %q stderr %q", args.Command, res.Stdout, res.Stderr)
	return string(res.Stdout)
}

// readFile reads a whole file from an instance.
func readFile(t *testing.T, c *lxd.Client, name, path string) ([]byte, *lxd.InstanceFileInfo) {
	t.Helper()
	rc, info, err := c.GetInstanceFile(testCtx(t, 30*time.Second), name, path)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b, info
}

// poll calls cond every 50ms until it reports true, failing the test when
// ctx ends first.
func poll(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}
