package juju

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// LogLevel is a juju-log level.
type LogLevel string

// juju-log levels.
const (
	LevelTrace    LogLevel = "TRACE"
	LevelDebug    LogLevel = "DEBUG"
	LevelInfo     LogLevel = "INFO"
	LevelWarning  LogLevel = "WARNING"
	LevelError    LogLevel = "ERROR"
	LevelCritical LogLevel = "CRITICAL"
)

// Log writes msg to the unit's log at level with juju-log.
func (c *Client) Log(ctx context.Context, level LogLevel, msg string) error {
	_, err := c.run(ctx, "juju-log", []string{"--log-level", string(level), "--", msg}, nil)
	return err
}

// LogWriter writes one line to the unit's log; *Client is one.
type LogWriter interface {
	Log(ctx context.Context, level LogLevel, msg string) error
}

// LevelFor maps a slog level to juju-log's: below Debug is TRACE, then
// DEBUG, INFO, WARNING, ERROR, and CRITICAL from Error+4 up.
func LevelFor(l slog.Level) LogLevel {
	switch {
	case l < slog.LevelDebug:
		return LevelTrace
	case l < slog.LevelInfo:
		return LevelDebug
	case l < slog.LevelWarn:
		return LevelInfo
	case l < slog.LevelError:
		return LevelWarning
	case l < slog.LevelError+4:
		return LevelError
	}
	return LevelCritical
}

// LogHandlerOptions configure NewLogHandler.
type LogHandlerOptions struct {
	// Level is the minimum level written; nil means slog.LevelInfo.
	Level slog.Leveler
	// Fallback receives a record, and why, when juju-log fails (outside a
	// hook, or the agent is gone); nil drops it. The process's stderr is
	// the usual choice: Juju logs a hook's stderr at WARNING.
	Fallback io.Writer
	// Timeout bounds each juju-log call; zero means 10 seconds. A record
	// is written even when the caller's ctx is cancelled, within Timeout.
	Timeout time.Duration
}

// NewLogHandler returns a slog.Handler writing each record with juju-log:
// the message followed by its attributes as key=value (groups as
// group.key=value, values quoted when they need it). It never logs through
// slog itself, so a failing juju-log cannot recurse.
func NewLogHandler(w LogWriter, opts LogHandlerOptions) slog.Handler {
	if opts.Level == nil {
		opts.Level = slog.LevelInfo
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	return &logHandler{w: w, opts: opts, fallbackMu: &sync.Mutex{}}
}

type logHandler struct {
	w          LogWriter
	opts       LogHandlerOptions
	fallbackMu *sync.Mutex
	prefix     string // open groups, "a.b."
	attrs      string // pre-rendered attributes, each with a leading space
}

// Enabled implements slog.Handler.
func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.opts.Level.Level()
}

// Handle implements slog.Handler: one juju-log call per record, falling
// back to Fallback when it fails. It never returns an error.
func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.prefix, a)
		return true
	})
	line := b.String()
	level := LevelFor(r.Level)

	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.opts.Timeout)
	defer cancel()
	err := h.w.Log(callCtx, level, line)
	if err == nil {
		return nil
	}
	if h.opts.Fallback != nil {
		h.fallbackMu.Lock()
		defer h.fallbackMu.Unlock()
		fmt.Fprintf(h.opts.Fallback, "%s %s (juju-log failed: %v)\n", level, line, err)
	}
	return nil
}

// WithAttrs implements slog.Handler.
func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		appendAttr(&b, h.prefix, a)
	}
	h2 := *h
	h2.attrs = b.String()
	return &h2
}

// WithGroup implements slog.Handler.
func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// appendAttr writes ` key=value` for a, groups flattened with dots.
func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			appendAttr(b, p, ga)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(quoteIfNeeded(prefix + a.Key))
	b.WriteByte('=')
	var s string
	switch a.Value.Kind() {
	case slog.KindTime:
		s = a.Value.Time().Format(time.RFC3339)
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			s = err.Error()
		} else {
			s = a.Value.String()
		}
	default:
		s = a.Value.String()
	}
	b.WriteString(quoteIfNeeded(s))
}

// quoteIfNeeded quotes s when it is empty or holds space, `=`, `"` or
// anything unprintable, as slog's text handler does.
func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if unicode.IsSpace(r) || r == '=' || r == '"' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
