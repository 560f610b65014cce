// Command github-runner is the charm's entry binary. Packed into the charm
// as `dispatch`, Juju runs it with no arguments for every hook and action,
// JUJU_DISPATCH_PATH naming the event; hooks.Dispatch routes it. Run with
// arguments outside Juju, it is a command line tool (see cli.go and
// internal/cli).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"charm.example/github-runner/hooks"
	"charm.example/github-runner/internal/juju"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run picks the mode: a Juju dispatch when JUJU_DISPATCH_PATH is set, the
// command line otherwise.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	env := juju.ParseEnv(environ)
	if env.DispatchPath != "" {
		return dispatch(ctx, environ, env, stderr)
	}
	return runCLI(ctx, args, lookupIn(environ), stdout, stderr)
}

// lookupIn returns a getenv over environ (os.Environ's form).
func lookupIn(environ []string) func(string) string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

// dispatch handles one Juju event. The hook tools get the environment Juju
// set for the hook, and are found on its PATH.
func dispatch(ctx context.Context, environ []string, env juju.Env, stderr io.Writer) int {
	client := juju.NewClient(juju.ExecRunner{Env: environ}, env)
	log := slog.New(juju.NewLogHandler(client, juju.LogHandlerOptions{
		Level:    slog.LevelDebug,
		Fallback: stderr,
	}))
	charm := hooks.New(hooks.Deps{})
	code := hooks.Dispatch(ctx, client, log, charm.Handlers())
	if code == hooks.ExitUsage {
		fmt.Fprintln(stderr, "github-runner: JUJU_DISPATCH_PATH names no event")
	}
	return code
}
