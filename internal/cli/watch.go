package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/runners"
)

// WatchCommand is the name of the exit watcher's command; the charm runs
// it as a daemon.
const WatchCommand = "watch"

// watchTriggerTimeout bounds one run of the watcher's command.
const watchTriggerTimeout = 30 * time.Minute

// watch follows LXD's lifecycle events and runs a command whenever runners
// of the unit exit (their job done): for the charm, it dispatches the charm's
// reconcile-runners event through juju-exec (the charm passes the command),
// so a finished runner is replaced at once. It needs no GitHub token. It runs until stopped.
func watch(ctx context.Context, args []string, sio IO) int {
	fs := flag.NewFlagSet("github-runner "+WatchCommand, flag.ContinueOnError)
	fs.SetOutput(sio.Stderr)
	unit := fs.String("unit", sio.Getenv(EnvName("unit")), "unit whose runners to watch, <app>/<n> (env "+EnvName("unit")+")")
	socket := fs.String("lxd-socket", sio.Getenv(EnvName("lxd-socket")), "LXD unix socket (env "+EnvName("lxd-socket")+"; empty: discover)")
	command := fs.String("exec", sio.Getenv(EnvName("exec")), "command run with sh -c after runners exit, such as `github-runner reconcile ...` (env "+EnvName("exec")+"; required)")
	debounce := fs.Duration("debounce", runners.DefaultWatchDebounce, "gather exits this close together into one run")
	listen := fs.String("metrics-listen", sio.Getenv(EnvName("metrics-listen")), "serve the metrics recorded in --state-dir on these host:port addresses, comma-separated (env "+EnvName("metrics-listen")+"; empty: none)")
	stateDir := fs.String("state-dir", orDefault(sio.Getenv(EnvName("state-dir")), DefaultStateDir), "folder whose metrics.json is served (env "+EnvName("state-dir")+")")
	verbose := fs.Bool("v", false, "log debug lines to stderr")
	fs.Usage = func() {
		fmt.Fprintf(sio.Stderr, "Usage: github-runner %s --unit <app>/<n> [flags]\n\n", WatchCommand)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(sio.Stderr, "github-runner %s: unexpected arguments %q\n", WatchCommand, fs.Args())
		return ExitUsage
	}
	app, _, _ := strings.Cut(*unit, "/")
	owner, err := runners.NewOwner(app, *unit)
	if err != nil {
		fmt.Fprintf(sio.Stderr, "github-runner %s: --unit: %v\n", WatchCommand, err)
		return ExitUsage
	}
	addrs, err := splitAddrs(*listen)
	if err != nil {
		fmt.Fprintf(sio.Stderr, "github-runner %s: --metrics-listen: %v\n", WatchCommand, err)
		return ExitUsage
	}
	if strings.TrimSpace(*command) == "" && len(addrs) == 0 {
		fmt.Fprintf(sio.Stderr, "github-runner %s: --exec: missing: give the command to run when runners exit (or --metrics-listen to serve metrics only)\n", WatchCommand)
		return ExitUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(sio.Stderr, &slog.HandlerOptions{Level: level}))
	if len(addrs) > 0 {
		if !filepath.IsAbs(*stateDir) {
			fmt.Fprintf(sio.Stderr, "github-runner %s: --state-dir %q: not an absolute path\n", WatchCommand, *stateDir)
			return ExitUsage
		}
		done := make(chan struct{})
		defer func() { <-done }()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			defer close(done)
			if err := serveMetrics(ctx, *stateDir, addrs, log); err != nil {
				log.Error("Cannot serve metrics", "error", err)
			}
		}()
		if strings.TrimSpace(*command) == "" {
			// reconcile-on-exit is off: serve the metrics only.
			<-ctx.Done()
			return ExitOK
		}
	}

	sock, err := lxd.FindSocket(*socket, sio.Getenv, os.Stat)
	if err != nil {
		fmt.Fprintf(sio.Stderr, "github-runner %s: %v\n", WatchCommand, err)
		return ExitFailed
	}
	client, err := lxd.New(lxd.Options{Socket: sock, Logger: log})
	if err != nil {
		fmt.Fprintf(sio.Stderr, "github-runner %s: %v\n", WatchCommand, err)
		return ExitFailed
	}
	trigger := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, watchTriggerTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", *command)
		cmd.Env = triggerEnv(os.Environ())
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", *command, err, bytes.TrimSpace(out))
		}
		return nil
	}
	log.Info("Watching for runner exits", "unit", *unit, "socket", sock)
	err = runners.WatchRunnerExits(ctx, owner, runners.WatchOptions{
		Events:   runners.LXDInstances{Client: client},
		Trigger:  trigger,
		Debounce: *debounce,
		Logger:   log,
	})
	if err != nil {
		fmt.Fprintf(sio.Stderr, "github-runner %s: %v\n", WatchCommand, err)
		return ExitFailed
	}
	return ExitOK
}

// triggerEnv is the environment of the watcher's command: its own, less
// what would make juju-exec take it for a hook (a hook context's id, a
// dispatch path) had the watcher been started from one.
func triggerEnv(environ []string) []string {
	var out []string
	for _, e := range environ {
		k, _, _ := strings.Cut(e, "=")
		switch {
		case k == "JUJU_CONTEXT_ID", k == "JUJU_DISPATCH_PATH", k == "JUJU_HOOK_NAME", strings.HasPrefix(k, "JUJU_ACTION_"):
			continue
		}
		out = append(out, e)
	}
	return out
}
