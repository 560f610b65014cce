package lxd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// readyPollInterval is the pause between two readiness probes.
const readyPollInterval = 200 * time.Millisecond

// ExecArgs is a command to run in an instance.
type ExecArgs struct {
	// Command is the argv, run without a shell. It is visible to every user
	// of the instance (ps, /proc/*/cmdline) and may be kept in logs: never
	// put a secret in it. Pass secrets in Environment, or push them in a
	// file with mode 0600.
	Command []string
	// Environment is added to the command's environment. It is not visible
	// to other users of the instance and is never logged by this package.
	Environment map[string]string
	// User and Group are the uid and gid to run as (0: root).
	User  uint32
	Group uint32
	// Cwd is the working directory (empty: the user's home, or /).
	Cwd string
}

// ExecResult is the outcome of a command that ran to its end.
type ExecResult struct {
	// ExitCode is the command's exit status.
	ExitCode int
	// Stdout and Stderr are everything the command wrote, buffered in
	// memory: keep the output of commands run this way small.
	Stdout []byte
	Stderr []byte
}

// ExecInstance runs a command in a running instance and waits for it to end,
// without websockets: LXD records the output, which is read and then deleted
// from the daemon. A non-zero exit status is not an error: it is in the
// result. A command LXD could not run at all (not found, instance not
// running) is an error.
//
// Secrets must go in args.Environment (or in a pushed file), never in
// args.Command: see [ExecArgs].
//
// To start something that outlives the call, let the command detach itself,
// for example sh -c "setsid sh /path/start.sh </dev/null >/path/log 2>&1 &":
// the call returns once the command's own process exits and its output
// streams are closed.
//
// When ctx ends first, ExecInstance returns an error wrapping ctx.Err() at
// once, and cancels the operation if the daemon allows it. LXD 5.0 does not
// allow cancelling a recorded exec, so the command then runs on inside the
// instance until it ends by itself (or the instance stops), and its recorded
// output stays in the instance's log directory until the instance is
// deleted.
func (c *Client) ExecInstance(ctx context.Context, name string, args ExecArgs) (*ExecResult, error) {
	if len(args.Command) == 0 {
		return nil, fmt.Errorf("cannot run an empty command in instance %q", name)
	}
	req := instanceExecPost{
		Command:      args.Command,
		Environment:  args.Environment,
		RecordOutput: true,
		User:         args.User,
		Group:        args.Group,
		Cwd:          args.Cwd,
	}
	op, err := c.queryOperation(ctx, request{method: http.MethodPost, path: instancePath(name) + "/exec", body: req})
	if err != nil {
		return nil, fmt.Errorf("cannot run %q in instance %q: %w", args.Command[0], name, err)
	}
	werr := op.Wait(ctx)
	if werr != nil && ctx.Err() != nil {
		if op.Info().MayCancel {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := op.Cancel(cctx); err != nil {
				c.log.Debug("cannot cancel lxd exec", "instance", name, "operation", op.ID(), "error", err)
			}
		}
		return nil, fmt.Errorf("cannot run %q in instance %q: %w", args.Command[0], name, ctx.Err())
	}
	var oe *OperationError
	if werr != nil && !errors.As(werr, &oe) {
		return nil, fmt.Errorf("cannot run %q in instance %q: %w", args.Command[0], name, werr)
	}

	// The output logs exist even when the command could not be run.
	var res execResult
	if md := op.Info().Metadata; len(md) > 0 && string(md) != "null" {
		if err := json.Unmarshal(md, &res); err != nil {
			return nil, fmt.Errorf("cannot decode result of %q in instance %q: %w", args.Command[0], name, err)
		}
	}
	stdout, rerr1 := c.readLog(ctx, res.Output["1"])
	stderr, rerr2 := c.readLog(ctx, res.Output["2"])
	c.deleteLogs(ctx, name, res.Output)
	if werr != nil {
		return nil, fmt.Errorf("cannot run %q in instance %q: %w", args.Command[0], name, werr)
	}
	if err := errors.Join(rerr1, rerr2); err != nil {
		return nil, fmt.Errorf("cannot read output of %q in instance %q: %w", args.Command[0], name, err)
	}
	return &ExecResult{ExitCode: res.Return, Stdout: stdout, Stderr: stderr}, nil
}

// readLog reads one recorded output file, given by its API path.
func (c *Client) readLog(ctx context.Context, path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	if !strings.HasPrefix(path, "/1.0/") {
		return nil, fmt.Errorf("unexpected exec log path %q", path)
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: path})
	if err != nil {
		return nil, err
	}
	defer drain(resp.Body)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	return b, nil
}

// deleteLogs removes recorded output files, best effort: a failure is logged
// and the files go when the instance does.
func (c *Client) deleteLogs(ctx context.Context, name string, output map[string]string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, path := range output {
		if !strings.HasPrefix(path, "/1.0/") {
			continue
		}
		if _, err := c.query(ctx, request{method: http.MethodDelete, path: path}, nil); err != nil && !errors.Is(err, ErrNotFound) {
			c.log.Warn("cannot delete lxd exec output", "instance", name, "path", path, "error", err)
		}
	}
}

// WaitInstanceReady waits until the instance can run a command: it runs
// `true` in it every 200ms until that succeeds, and gives up when ctx ends
// (the error then wraps ctx.Err() and the last failure). A missing instance
// fails at once with an error matching [ErrNotFound].
func (c *Client) WaitInstanceReady(ctx context.Context, name string) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last error
	for {
		select {
		case <-ctx.Done():
			if last == nil {
				return fmt.Errorf("instance %q did not become ready: %w", name, ctx.Err())
			}
			return fmt.Errorf("instance %q did not become ready: %w; last attempt: %w", name, ctx.Err(), last)
		case <-timer.C:
		}
		res, err := c.ExecInstance(ctx, name, ExecArgs{Command: []string{"true"}})
		switch {
		case err == nil && res.ExitCode == 0:
			return nil
		case err == nil:
			last = fmt.Errorf("`true` exited with status %d", res.ExitCode)
		case errors.Is(err, ErrNotFound):
			return err
		case ctx.Err() == nil:
			last = err
		}
		timer.Reset(readyPollInterval)
	}
}
