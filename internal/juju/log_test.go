package juju_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/juju/jujutest"
)

func TestLogLevels(t *testing.T) {
	for _, tc := range []struct {
		in   slog.Level
		want juju.LogLevel
	}{
		{slog.LevelDebug - 4, juju.LevelTrace},
		{slog.LevelDebug, juju.LevelDebug},
		{slog.LevelDebug + 2, juju.LevelDebug},
		{slog.LevelInfo, juju.LevelInfo},
		{slog.LevelWarn, juju.LevelWarning},
		{slog.LevelError, juju.LevelError},
		{slog.LevelError + 4, juju.LevelCritical},
	} {
		require.Equal(t, tc.want, juju.LevelFor(tc.in), tc.in.String())
	}
}

type stringer struct{}

func (stringer) String() string { return "via Stringer" }

type secretish struct{}

func (secretish) LogValue() slog.Value { return slog.StringValue("<redacted>") }

func TestLogHandlerWritesThroughJujuLog(t *testing.T) {
	s := startSim(t, jujutest.Options{})
	var fallback bytes.Buffer
	inContext(t, s, "hooks/install", nil, func(ctx context.Context, c *juju.Client) error {
		log := slog.New(juju.NewLogHandler(c, juju.LogHandlerOptions{Level: slog.LevelDebug, Fallback: &fallback}))
		log.DebugContext(ctx, "debugging", "n", 1)
		log.Info("plain")
		log.With("unit", "github-runner/0").WithGroup("lxd").Warn("instance slow", "name", "r-1", "took", 2*time.Second,
			slog.Group("req", "path", "/1.0/instances", "q", "a b"))
		log.Error("failed", "err", errors.New("it broke: badly"), "empty", "", "eq", "a=b", "s", stringer{}, "token", secretish{})
		slog.New(juju.NewLogHandler(c, juju.LogHandlerOptions{})).Debug("below the default level")
		return nil
	})
	require.Empty(t, fallback.String())
	var got []jujutest.LogLine
	for _, l := range s.Logs() {
		got = append(got, jujutest.LogLine{Level: l.Level, Message: l.Message})
	}
	require.Equal(t, []jujutest.LogLine{
		{Level: "DEBUG", Message: "debugging n=1"},
		{Level: "INFO", Message: "plain"},
		{Level: "WARNING", Message: "instance slow unit=github-runner/0 lxd.name=r-1 lxd.took=2s lxd.req.path=/1.0/instances lxd.req.q=\"a b\""},
		{Level: "ERROR", Message: `failed err="it broke: badly" empty="" eq="a=b" s="via Stringer" token=<redacted>`},
	}, got)
}

func TestLogHandlerFallsBackWithoutJujuLog(t *testing.T) {
	var fallback bytes.Buffer
	c := juju.NewClient(juju.ExecRunner{Env: []string{"PATH=/nonexistent"}}, juju.Env{})
	log := slog.New(juju.NewLogHandler(c, juju.LogHandlerOptions{Fallback: &fallback}))
	log.Warn("no hook context", "k", "v")
	require.Contains(t, fallback.String(), "WARNING no hook context k=v (juju-log failed: ")
	require.Contains(t, fallback.String(), "hook tool not found")
}

// stuckWriter is a juju-log that never answers until its ctx ends.
type stuckWriter struct {
	mu    sync.Mutex
	calls int
}

func (w *stuckWriter) Log(ctx context.Context, _ juju.LogLevel, _ string) error {
	w.mu.Lock()
	w.calls++
	w.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

func TestLogHandlerNeverBlocksForever(t *testing.T) {
	var fallback bytes.Buffer
	w := &stuckWriter{}
	log := slog.New(juju.NewLogHandler(w, juju.LogHandlerOptions{Fallback: &fallback, Timeout: 50 * time.Millisecond}))
	start := time.Now()
	// Even with the caller's ctx already cancelled the line is tried, within the timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	log.InfoContext(ctx, "stuck")
	require.Less(t, time.Since(start), 10*time.Second)
	require.Equal(t, 1, w.calls)
	require.Contains(t, fallback.String(), "INFO stuck (juju-log failed: context deadline exceeded)")
}
