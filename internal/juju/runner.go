package juju

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Runner runs one hook tool: name with args, stdin as its standard input
// (none when nil), returning what it printed on standard output. A tool
// that exits non-zero gives a *ToolError.
type Runner interface {
	Run(ctx context.Context, name string, args []string, stdin []byte) (stdout []byte, err error)
}

// ExecRunner runs hook tools as processes, found on PATH as Juju puts them
// there for each hook.
type ExecRunner struct {
	// Env is the tools' environment. Nil means this process's own, which
	// is right inside a hook: the tools read JUJU_CONTEXT_ID and the agent's
	// socket from it. When Env is set, tools are looked up on its PATH.
	Env []string
	// WaitDelay bounds the wait for a tool's output once it has exited or
	// ctx is done (a child it left behind may hold the pipes open).
	// Zero means 5 seconds.
	WaitDelay time.Duration
}

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, name string, args []string, stdin []byte) ([]byte, error) {
	path, err := r.lookPath(name)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = r.Env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = r.WaitDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 5 * time.Second
	}
	err = cmd.Run()
	if err == nil || errors.Is(err, exec.ErrWaitDelay) {
		return stdout.Bytes(), nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("cannot run %s: %w", name, ctxErr)
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return nil, &ToolError{
			Tool:     name,
			Args:     RedactArgs(args),
			ExitCode: exitErr.ExitCode(),
			Message:  errorMessage(stderr.Bytes(), exitErr),
		}
	}
	return nil, fmt.Errorf("cannot run %s: %w", name, err)
}

// lookPath finds name on the PATH of r.Env, or of this process.
func (r ExecRunner) lookPath(name string) (string, error) {
	if r.Env == nil {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%w: %s", ErrToolNotFound, name)
		}
		return p, nil
	}
	pathVar := ""
	for _, kv := range r.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrToolNotFound, name)
}

// errorMessage is what a failed tool said: from its `ERROR ` line on, or
// its last line of stderr, or the exit status.
func errorMessage(stderr []byte, exitErr error) string {
	text := strings.TrimSpace(string(stderr))
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if msg, ok := strings.CutPrefix(l, "ERROR "); ok {
			return strings.TrimSpace(strings.Join(append([]string{msg}, lines[i+1:]...), "\n"))
		}
	}
	if text != "" {
		return strings.TrimSpace(lines[len(lines)-1])
	}
	return exitErr.Error()
}

// RedactArgs returns args fit for an error or a log: the value of each
// key=value argument is replaced, since state-set and action-set values may
// be secret. Flags and other words are kept.
func RedactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if k, _, ok := strings.Cut(a, "="); ok && !strings.HasPrefix(a, "-") {
			a = k + "=<redacted>"
		}
		out[i] = a
	}
	return out
}

// Sentinels for errors.Is on what the hook tools report.
var (
	// ErrToolNotFound: the tool is not on PATH, so this is not a hook context.
	ErrToolNotFound = errors.New("hook tool not found (not running in a Juju hook context?)")
	// ErrNotLeader: the request needs leadership this unit does not have.
	ErrNotLeader = errors.New("this unit is not the leader")
	// ErrNotAction: an action tool was used outside an action.
	ErrNotAction = errors.New("not running an action")
	// ErrPermissionDenied: the controller refused, e.g. a secret not granted.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrNotFound: the secret, key or other thing asked for does not exist.
	ErrNotFound = errors.New("not found")
)

// ToolError is a hook tool that exited non-zero.
type ToolError struct {
	// Tool is the tool's name.
	Tool string
	// Args are the tool's arguments, key=value values redacted.
	Args []string
	// ExitCode is the tool's exit status: 2 for a bad command line, 1 for
	// a request Juju refused.
	ExitCode int
	// Message is the tool's error message, without the `ERROR ` prefix.
	Message string
}

// Error names the tool, its exit status and its message.
func (e *ToolError) Error() string {
	return fmt.Sprintf("%s failed (exit status %d): %s", e.Tool, e.ExitCode, e.Message)
}

// Is matches the sentinels above by the tool's message, Juju's only way of
// saying what went wrong.
func (e *ToolError) Is(target error) bool {
	switch target {
	case ErrNotLeader:
		// relation-set --app by a non-leader says only this.
		return strings.Contains(e.Message, "is not the leader") ||
			(e.Tool == "relation-set" && e.Message == "cannot write relation settings")
	case ErrRelationNotFound:
		return isRelationNotFound(e.Message)
	case ErrNotAction:
		return e.Message == "not running an action"
	case ErrPermissionDenied:
		return strings.HasSuffix(e.Message, "permission denied")
	case ErrNotFound:
		return strings.HasSuffix(e.Message, "not found")
	}
	return false
}
