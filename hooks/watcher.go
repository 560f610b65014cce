package hooks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/schedule"
)

// WatchCommand is the charm binary's command the exit watcher runs.
const WatchCommand = "watch"

// WatcherDaemon is the unit's runner exit watcher (reconcile-on-exit): the
// charm binary's watch command, kept running, which dispatches
// reconcile-runners through juju-exec as soon as a runner of the unit exits.
// It is a systemd service where systemd runs the machine (backend
// schedule.Systemd), a detached process with its pid file in the unit's
// state folder elsewhere. It needs no secret: only the LXD socket.
func WatcherDaemon(env juju.Env, socket string, timerBackend schedule.Backend, systemdDir string) schedule.Daemon {
	backend := schedule.Detached
	if timerBackend == schedule.Systemd {
		backend = schedule.Systemd
	}
	return schedule.Daemon{
		Name:        "github-runner-watch-" + jobSuffix(env.UnitName),
		Description: "Replace the runners of " + env.UnitName + " as soon as they finish their job",
		Command: []string{filepath.Join(env.CharmDir, "dispatch"), WatchCommand,
			"--unit", env.UnitName, "--lxd-socket", socket},
		Env:        watcherEnv(),
		Backend:    backend,
		SystemdDir: systemdDir,
		RunDir:     StateDirFor(env.CharmDir),
	}
}

// watcherEnv passes on what juju-exec may need to reach the unit's agent;
// nothing of the hook (no context id, no dispatch path) and no secret.
func watcherEnv() []string {
	var out []string
	for _, k := range []string{"PATH", "JUJU_AGENT_SOCKET_ADDRESS", "JUJU_AGENT_SOCKET_NETWORK"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// ensureWatcher runs the exit watcher when reconcile-on-exit is on and
// removes it when off.
func (s *session) ensureWatcher(ctx context.Context) error {
	d := WatcherDaemon(s.ev.Juju.Env(), s.pool.LXD.Socket(), s.c.deps.TimerBackend, s.cfg.TimerDirectory)
	if !s.cfg.ReconcileOnExit {
		return d.Remove(ctx)
	}
	started, err := d.Install(ctx)
	if err != nil {
		return fmt.Errorf("cannot start the runner exit watcher: %w", err)
	}
	if started {
		s.ev.Log.Info("runner exit watcher started", "daemon", d.Name, "backend", string(d.Backend))
	}
	return nil
}

// removeWatcher stops the exit watcher, whatever backend it runs under.
func (c *Charm) removeWatcher(ctx context.Context, ev Event, cfg Config) error {
	d := WatcherDaemon(ev.Juju.Env(), "", c.deps.TimerBackend, cfg.TimerDirectory)
	if err := d.Remove(ctx); err != nil {
		return fmt.Errorf("cannot stop the runner exit watcher: %w", err)
	}
	return nil
}
