package lxd_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
)

// TestEphemeralPoweroffEvents checks what the runner manager relies on: an
// ephemeral runner that powers itself off disappears, and the event stream
// says so at once.
func TestEphemeralPoweroffEvents(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, time.Minute)

	listenCtx, stop := context.WithCancel(ctx)
	defer stop()
	l, err := c.GetEvents(listenCtx, lxd.EventTypeLifecycle)
	require.NoError(t, err)

	req := newInstance(t, c, "ephemeral")
	req.Ephemeral = true
	require.NoError(t, c.LaunchInstance(ctx, req))
	inst, err := c.GetInstance(ctx, req.Name)
	require.NoError(t, err)
	require.True(t, inst.Ephemeral)
	require.NoError(t, c.WaitInstanceReady(ctx, req.Name))

	// poweroff may end the exec with the instance: its error does not matter.
	_, _ = c.ExecInstance(ctx, req.Name, lxd.ExecArgs{Command: []string{"poweroff"}})

	// The events for this instance (others' tests share the daemon).
	seen := map[lxd.LifecycleAction]bool{}
	for !seen[lxd.InstanceDeleted] {
		select {
		case ev, ok := <-l.Events():
			require.True(t, ok, "the event stream ended: %v", l.Err())
			lc, ok := ev.Lifecycle()
			require.True(t, ok, "a lifecycle subscription delivered %q", ev.Type)
			require.False(t, ev.Timestamp.IsZero())
			if name, ok := lc.InstanceName(); ok && name == req.Name {
				t.Logf("event %s %s", lc.Action, lc.Source)
				seen[lc.Action] = true
			}
		case <-ctx.Done():
			t.Fatalf("no instance-deleted event for %s; saw %v", req.Name, seen)
		}
	}
	require.True(t, seen[lxd.InstanceCreated], "saw %v", seen)
	require.True(t, seen[lxd.InstanceStarted], "saw %v", seen)
	require.True(t, seen[lxd.InstanceShutdown] || seen[lxd.InstanceStopped], "saw %v", seen)

	_, err = c.GetInstance(ctx, req.Name)
	require.ErrorIs(t, err, lxd.ErrNotFound)

	// Ending the context ends the stream.
	stop()
	select {
	case <-l.Done():
	case <-ctx.Done():
		t.Fatal("the listener did not stop with its context")
	}
	for range l.Events() {
		// Drain: the channel must be closed.
	}
	require.ErrorIs(t, l.Err(), context.Canceled)
}

func TestEventsStreamOfAllTypes(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, 30*time.Second)
	l, err := c.GetEvents(ctx) // every type
	require.NoError(t, err)
	name := launch(t, c, "events-all")
	types := map[lxd.EventType]bool{}
	for !types[lxd.EventTypeLifecycle] || !types[lxd.EventTypeOperation] {
		select {
		case ev := <-l.Events():
			types[ev.Type] = true
		case <-ctx.Done():
			t.Fatalf("saw only %v after launching %s", types, name)
		}
	}
}

func TestEventsSubscriptionFailure(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.GetEvents(ctx, lxd.EventTypeLifecycle)
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func TestLifecycleInstanceName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		source string
		name   string
		ok     bool
	}{
		{"/1.0/instances/runner-1", "runner-1", true},
		{"/1.0/instances/runner-1?project=ci", "runner-1", true},
		{"/1.0/instances/runner-1/snapshots/snap0", "runner-1", true},
		{"/1.0/containers/c1", "c1", true},
		{"/1.0/instances/a%20b", "a b", true},
		{"/1.0/images/abc", "", false},
		{"/1.0/instances/", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		name, ok := lxd.EventLifecycle{Source: tt.source}.InstanceName()
		require.Equal(t, tt.ok, ok, tt.source)
		require.Equal(t, tt.name, name, tt.source)
	}
}
