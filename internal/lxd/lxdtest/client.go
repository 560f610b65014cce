package lxdtest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"charm.example/github-runner/internal/lxd"
)

// Client returns an lxd.Client of the test daemon (see [Socket]: the test is
// skipped, or failed under CI, when the daemon is unreachable). The client's
// warnings go to the test's output.
func Client(t testing.TB) *lxd.Client {
	t.Helper()
	sock := Socket(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := lxd.Connect(ctx, lxd.Options{Socket: sock, Logger: logger})
	if err != nil {
		t.Fatalf("cannot connect to the test LXD at %s: %v", sock, err)
	}
	return c
}

// RemoveInstanceLater removes the instance (stopping it first) when the test
// ends, and reports a failure to do so as a test error. A missing instance is
// fine.
func RemoveInstanceLater(t testing.TB, c *lxd.Client, name string) {
	t.Helper()
	t.Cleanup(func() {
		// t.Context() has ended when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.RemoveInstance(ctx, name); err != nil {
			t.Errorf("cannot clean up instance %s: %v", name, err)
		}
	})
}
