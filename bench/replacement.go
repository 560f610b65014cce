package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/runners"
)

// Replacement is the time from a job's end to a replacement runner online.
type Replacement struct {
	N int
	// Timer is the timer path fired at once, TimerVia says through what.
	Timer    []time.Duration
	TimerVia string
	// Direct is Manager.Reconcile called in-process at once (measured
	// beside the charm's path when that one ran).
	Direct []time.Duration
	// CharmEvent is the charm's exit watcher (reconcile-on-exit), when the
	// charm has one.
	CharmEvent []time.Duration
	// Event is runners.WatchRunnerExits in-process, reconciling at once.
	Event []time.Duration
	// Interval is the charm's default reconcile-interval.
	Interval time.Duration
}

// replacementRunners is how many runners each replacement measure keeps.
const replacementRunners = 2

// defaultInterval is config.yaml's reconcile-interval default.
const defaultInterval = 10 * time.Minute

// exitWatcherOption is the charm option that runs its exit watcher.
const exitWatcherOption = "reconcile-on-exit"

// replacement measures each path on a unit of its own, with a label of its
// own so that only its runners take its jobs.
func (b *bench) replacement(ctx context.Context, rep *Report) error {
	rp := &Replacement{N: replacementRunners, Interval: defaultInterval}
	rep.Replacement = rp

	// Through the packed charm, when it can be deployed: the timer's
	// command fired at once, then the charm's own exit watcher.
	if b.s.useCharm {
		c, err := b.deployCharm(ctx, replacementRunners, "bench-charm")
		if err != nil {
			b.log.Warn("cannot deploy the charm; measuring the timer path with an in-process reconcile", "error", err)
		} else {
			b.charm = c // kept for the memory measure; measure removes it
			rp.TimerVia = "the charm's `dispatch` through the Juju simulator's `juju-exec` (the timer's command)"
			for range b.s.rounds {
				d, err := b.replaceOnce(ctx, c.Unit, "bench-charm", c.FireTimer)
				if err != nil {
					return fmt.Errorf("timer path through the charm: %w", err)
				}
				rp.Timer = append(rp.Timer, d)
			}
			if c.HasOption(exitWatcherOption) {
				if _, err := c.Sim.Configure(ctx, map[string]any{exitWatcherOption: true}); err != nil {
					return fmt.Errorf("cannot turn the exit watcher on: %w", err)
				}
				for range b.s.rounds {
					d, err := b.replaceOnce(ctx, c.Unit, "bench-charm", nil)
					if err != nil {
						return fmt.Errorf("the charm's exit watcher: %w", err)
					}
					rp.CharmEvent = append(rp.CharmEvent, d)
				}
			}
		}
	}

	// In-process: Reconcile at once.
	u, err := b.unit("direct")
	if err != nil {
		return err
	}
	m, err := b.up(ctx, u, replacementRunners, "bench-direct")
	if err != nil {
		return err
	}
	reconcile := func(ctx context.Context) error {
		_, err := m.Reconcile(ctx, replacementRunners, rig.Resources)
		return err
	}
	for range b.s.rounds {
		d, err := b.replaceOnce(ctx, u, "bench-direct", reconcile)
		if err != nil {
			return fmt.Errorf("direct reconcile: %w", err)
		}
		rp.Direct = append(rp.Direct, d)
	}
	if rp.TimerVia == "" {
		rp.TimerVia = "`Manager.Reconcile` in-process (the charm could not be deployed)"
		rp.Timer, rp.Direct = rp.Direct, nil
	}

	// In-process: the manager's exit watcher reconciling on each exit.
	wctx, stop := context.WithCancel(ctx)
	watched := make(chan error, 1)
	go func() {
		watched <- runners.WatchRunnerExits(wctx, m.Owner(), runners.WatchOptions{Events: runners.LXDInstances{Client: b.r.LXD}, Trigger: reconcile})
	}()
	var werr error
	for range b.s.rounds {
		d, err := b.replaceOnce(ctx, u, "bench-direct", nil)
		if err != nil {
			werr = fmt.Errorf("runners.WatchRunnerExits: %w", err)
			break
		}
		rp.Event = append(rp.Event, d)
	}
	stop()
	if err := errors.Join(werr, <-watched); err != nil {
		return err
	}
	b.log.Info("replacement", "timer", median(rp.Timer), "direct", median(rp.Direct),
		"charm-event", median(rp.CharmEvent), "event", median(rp.Event))
	return b.clean(ctx, u)
}

// replaceOnce runs a short job on one of u's runners, calls trigger (if
// any) the moment the job completes, and returns the time from the job's
// completion until u again has replacementRunners online, the finished one
// gone.
func (b *bench) replaceOnce(ctx context.Context, u rig.Unit, label string, trigger func(context.Context) error) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := b.r.WaitOnline(ctx, u, replacementRunners); err != nil {
		return 0, err
	}
	id := b.r.Sim.QueueJob([]string{label}, 200*time.Millisecond)
	job, err := b.r.Sim.WaitForJob(ctx, id, githubtest.JobCompleted)
	if err != nil {
		return 0, err
	}
	if trigger != nil {
		if err := trigger(ctx); err != nil {
			return 0, err
		}
	}
	err = b.r.Sim.WaitFor(ctx, func() bool {
		if _, ok := b.r.Sim.RunnerByName(b.r.Org, job.RunnerName); ok {
			return false
		}
		return b.r.Online(u) == replacementRunners
	})
	done := time.Now()
	if err != nil {
		return 0, fmt.Errorf("no replacement for %s online: %w", job.RunnerName, err)
	}
	return done.Sub(job.CompletedAt), nil
}

// deployCharm builds and deploys the charm with want runners labelled
// label, and waits until they are online.
func (b *bench) deployCharm(ctx context.Context, want int, label string) (*rig.CharmUnit, error) {
	dir, err := os.MkdirTemp(b.r.Dir(), "charm-build-")
	if err != nil {
		return nil, err
	}
	start := time.Now()
	build, err := rig.BuildCharm(ctx, dir)
	if err != nil {
		return nil, err
	}
	b.log.Info("charm built", "took", time.Since(start).Round(time.Millisecond))
	c, err := b.r.StartCharm(build, "bench-charm", want, label, nil)
	if err != nil {
		return nil, err
	}
	if c.HasOption(exitWatcherOption) {
		// The timer path is measured first, alone.
		if err := c.Sim.SetConfig(map[string]any{exitWatcherOption: false}); err != nil {
			b.closeCharm(c)
			return nil, err
		}
	}
	start = time.Now()
	if _, err := c.Sim.Deploy(ctx); err != nil {
		b.closeCharm(c)
		return nil, fmt.Errorf("deploy: %w (status %s)", err, c.Sim.UnitStatus())
	}
	b.log.Info("charm deployed", "took", time.Since(start).Round(time.Millisecond), "status", c.Sim.UnitStatus().String())
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := b.r.WaitOnline(wctx, c.Unit, want); err != nil {
		b.closeCharm(c)
		return nil, err
	}
	return c, nil
}

func (b *bench) closeCharm(c *rig.CharmUnit) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		b.log.Warn("cannot remove the charm unit", "error", err)
	}
}
