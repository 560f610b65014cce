package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"charm.example/github-runner/internal/cli"
	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/runners"
	"charm.example/github-runner/internal/schedule"
)

// Bounds of the periodic jobs.
const (
	// reconcileJobTimeout bounds one timer run, waiting for the machine
	// lock included.
	reconcileJobTimeout = 30 * time.Minute
	// imageJobTimeout bounds one image rebuild run.
	imageJobTimeout = 90 * time.Minute
)

// jobSuffix turns a unit name into a file name part: github-runner-0.
func jobSuffix(unit string) string { return strings.ReplaceAll(unit, "/", "-") }

// TimerJob is the unit's reconcile timer: every reconcile-interval minutes,
// after a random delay of up to a quarter of it, it dispatches
// reconcile-runners. backend says what runs it.
func TimerJob(s pool.Settings, unit string, backend schedule.Backend) schedule.Job {
	every := s.ReconcileEvery()
	return schedule.Job{
		Name:        "github-runner-reconcile-" + jobSuffix(unit),
		Unit:        unit,
		Event:       schedule.EventReconcile,
		Interval:    every,
		RandomDelay: every / 4,
		Timeout:     reconcileJobTimeout,
		Backend:     backend,
		SystemdDir:  s.TimerDirectory,
		CronDir:     s.CronDirectory,
	}
}

// ImageBuildJob is the job that rebuilds the runner image; its cron entry
// (schedule.ScheduleRunnerImageBuild) runs four times a day, bounds a run
// and never lets two overlap.
func ImageBuildJob(s pool.Settings, unit string) schedule.Job {
	return schedule.Job{
		Name:    "github-runner-image-build-" + jobSuffix(unit),
		Unit:    unit,
		Event:   schedule.EventBuildImage,
		Timeout: imageJobTimeout,
		CronDir: s.CronDirectory,
	}
}

// WatcherDaemon is the unit's runner exit watcher (reconcile-on-exit): the
// charm binary's watch command, kept running, which dispatches the
// reconcile timer's command as soon as a runner of the unit exits. It is a
// systemd service where systemd runs the machine (backend
// schedule.Systemd), a detached process with its pid file in the unit's
// state folder elsewhere. It needs no secret: only the LXD socket.
//
// With metrics-port set it also serves the unit's metrics on listen (a
// comma-separated host:port list, see metricsListen); with
// reconcile-on-exit off it then only serves them.
func WatcherDaemon(env juju.Env, s pool.Settings, socket, listen string, timerBackend schedule.Backend) schedule.Daemon {
	backend := schedule.Detached
	if timerBackend == schedule.Systemd {
		backend = schedule.Systemd
	}
	command := []string{filepath.Join(env.CharmDir, "dispatch"), cli.WatchCommand,
		"--unit", env.UnitName, "--lxd-socket", socket}
	if s.ReconcileOnExit {
		command = append(command, "--exec", TimerJob(s, env.UnitName, timerBackend).DispatchCommand())
	}
	if listen != "" {
		command = append(command, "--metrics-listen", listen, "--state-dir", StateDirFor(env.CharmDir))
	}
	return schedule.Daemon{
		Name:        "github-runner-watch-" + jobSuffix(env.UnitName),
		Description: "Replace the runners of " + env.UnitName + " as soon as they finish their job, and serve its metrics",
		Command:     command,
		Env:         watcherEnv(),
		Backend:     backend,
		SystemdDir:  s.TimerDirectory,
		RunDir:      StateDirFor(env.CharmDir),
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

// schedules are the unit's periodic jobs: the reconcile timer, the image
// rebuild cron entry and the exit watcher. They implement pool.Schedules.
type schedules struct {
	c  *Charm
	ev Event
}

// Ensure installs the reconcile timer (rewritten when the interval
// changed), the image rebuild cron entry and the exit watcher, removing
// those written under folders the settings no longer name.
func (sc schedules) Ensure(ctx context.Context, p *pool.Pool, old *pool.Applied) error {
	s := p.Settings()
	unit := sc.ev.Juju.Env().UnitName
	if old != nil && (old.TimerDir != s.TimerDirectory || old.CronDir != s.CronDirectory) && old.CronDir != "" {
		prev := s
		prev.TimerDirectory, prev.CronDirectory = old.TimerDir, old.CronDir
		if err := sc.remove(ctx, prev); err != nil {
			return err
		}
	}
	job := TimerJob(s, unit, sc.c.deps.TimerBackend)
	changed, err := job.Install(ctx)
	if err != nil {
		return fmt.Errorf("cannot install the reconcile timer: %w", err)
	}
	if changed {
		sc.ev.Log.Info("reconcile timer installed", "job", job.Name, "every", job.Interval.String(), "backend", string(job.Backend))
	}
	if _, err := schedule.ScheduleRunnerImageBuild(ctx, ImageBuildJob(s, unit), p.Owner().Prefix()); err != nil {
		return fmt.Errorf("cannot schedule the runner image rebuilds: %w", err)
	}
	return sc.ensureWatcher(ctx, s, p.LXDSocket())
}

// watcherWanted says whether the watcher runs: for reconcile-on-exit, or
// to serve the metrics.
func watcherWanted(s pool.Settings) bool { return s.ReconcileOnExit || s.MetricsPort != 0 }

// ensureWatcher runs the exit watcher when reconcile-on-exit is on or
// metrics are served, and removes it otherwise.
func (sc schedules) ensureWatcher(ctx context.Context, s pool.Settings, socket string) error {
	d := WatcherDaemon(sc.ev.Juju.Env(), s, socket, metricsListen(ctx, sc.ev, s), sc.c.deps.TimerBackend)
	if !watcherWanted(s) {
		return d.Remove(ctx)
	}
	started, err := d.Install(ctx)
	if err != nil {
		return fmt.Errorf("cannot start the runner exit watcher: %w", err)
	}
	if started {
		sc.ev.Log.Info("runner exit watcher started", "daemon", d.Name, "backend", string(d.Backend))
	}
	return nil
}

// rearm re-installs the timer and the watcher if they are gone, as
// update-status does.
func (sc schedules) rearm(ctx context.Context, s pool.Settings, socket string) error {
	job := TimerJob(s, sc.ev.Juju.Env().UnitName, sc.c.deps.TimerBackend)
	if !job.Installed(ctx) {
		if _, err := job.Install(ctx); err != nil {
			return fmt.Errorf("cannot re-arm the reconcile timer: %w", err)
		}
		sc.ev.Log.Warn("the reconcile timer was missing; re-armed it", "job", job.Name)
	}
	if !watcherWanted(s) {
		return nil
	}
	d := WatcherDaemon(sc.ev.Juju.Env(), s, socket, metricsListen(ctx, sc.ev, s), sc.c.deps.TimerBackend)
	if d.Running(ctx) {
		return nil
	}
	if err := sc.ensureWatcher(ctx, s, socket); err != nil {
		return err
	}
	sc.ev.Log.Warn("the runner exit watcher was not running; started it", "daemon", d.Name)
	return nil
}

// removeWatcher stops the exit watcher, whatever backend it runs under.
func (sc schedules) removeWatcher(ctx context.Context, s pool.Settings) error {
	d := WatcherDaemon(sc.ev.Juju.Env(), s, "", "", sc.c.deps.TimerBackend)
	if err := d.Remove(ctx); err != nil {
		return fmt.Errorf("cannot stop the runner exit watcher: %w", err)
	}
	return nil
}

// remove removes the exit watcher, the reconcile timer and the image
// rebuild cron entry written under s's folders. Missing ones are fine; no
// LXD is needed.
func (sc schedules) remove(ctx context.Context, s pool.Settings) error {
	unit := sc.ev.Juju.Env().UnitName
	var errs []error
	if err := sc.removeWatcher(ctx, s); err != nil {
		errs = append(errs, err)
	}
	if job := TimerJob(s, unit, sc.c.deps.TimerBackend); anyExists(job.Paths()) {
		if err := job.Remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cannot remove the reconcile timer: %w", err))
		}
	}
	env := sc.ev.Juju.Env()
	owner, err := runners.NewOwnerInModel(env.AppName(), unit, env.ModelUUID)
	if err != nil {
		errs = append(errs, err)
	} else if err := schedule.UnscheduleRunnerImageBuild(ctx, s.CronDirectory, owner.Prefix()); err != nil {
		errs = append(errs, fmt.Errorf("cannot remove the image rebuild cron entry: %w", err))
	}
	// The entry of a unit from before the model was part of names.
	if legacy, err := runners.NewOwner(env.AppName(), unit); err == nil && legacy.Prefix() != owner.Prefix() {
		if err := schedule.UnscheduleRunnerImageBuild(ctx, s.CronDirectory, legacy.Prefix()); err != nil {
			errs = append(errs, fmt.Errorf("cannot remove the image rebuild cron entry: %w", err))
		}
	}
	return errors.Join(errs...)
}

func anyExists(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return false
}
