package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"

	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/pool"
)

// stop removes the unit's runners and periodic jobs.
func (c *Charm) stop(ctx context.Context, ev Event) error { return c.teardown(ctx, ev, false) }

// remove removes what stop does, and the runner image and the unit's
// state.
func (c *Charm) remove(ctx context.Context, ev Event) error { return c.teardown(ctx, ev, true) }

// teardown runs for stop and remove: it disables the periodic jobs,
// removes every runner of the unit (busy ones too), de-registering them
// from GitHub with the credentials they were registered with, and removes
// what is left of the unit's instances; with all, also the runner image,
// the state folder and the charm state. It works from what the unit
// remembers even when the configuration is now invalid.
func (c *Charm) teardown(ctx context.Context, ev Event, all bool) error {
	if err := ev.Juju.SetStatus(ctx, juju.Maintenance("removing the runners")); err != nil {
		return err
	}
	s, cerr := LoadSettings(ctx, ev.Juju)
	var cfgErr *config.Error
	if cerr != nil && !errors.As(cerr, &cfgErr) {
		return cerr
	}
	mem := &charmMemory{j: ev.Juju, log: ev.Log}
	applied, err := mem.Applied(ctx)
	if err != nil {
		return err
	}
	creds, err := mem.Credentials(ctx)
	if err != nil {
		return err
	}
	if creds == nil && applied == nil {
		ev.Log.Info("nothing was set up; nothing to tear down")
		return c.finishTeardown(ctx, ev, mem, all)
	}
	// Work with what was applied: the folders the jobs were written to and
	// the credentials the runners were registered with.
	if applied != nil {
		s.TimerDirectory, s.CronDirectory = applied.TimerDir, applied.CronDir
	}
	if creds != nil {
		s = s.WithCredentials(*creds)
	}
	s.Labels = "" // not needed to remove runners, and maybe invalid now
	if config.HasProblem(cerr, "lxd-socket") {
		s.LXDSocket = ""
	}
	sched := schedules{c: c, ev: ev}
	if err := sched.remove(ctx, s); err != nil {
		return err
	}
	p, err := pool.Open(s, c.poolOptions(ev, nil))
	if err != nil {
		if v := pool.Classify(err); v.Kind == pool.Block {
			ev.Log.Warn("no LXD to remove runners from", "reason", v.Message)
			return c.finishTeardown(ctx, ev, mem, all)
		}
		return err
	}
	if err := p.Teardown(ctx, all); err != nil {
		return err
	}
	return c.finishTeardown(ctx, ev, mem, all)
}

// finishTeardown, for remove, deletes the state folder and the charm state.
func (c *Charm) finishTeardown(ctx context.Context, ev Event, mem *charmMemory, all bool) error {
	if !all {
		return ev.Juju.SetStatus(ctx, juju.Maintenance("runners removed"))
	}
	if dir := StateDirFor(ev.Juju.Env().CharmDir); ev.Juju.Env().CharmDir != "" {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("cannot remove the runner state folder: %w", err)
		}
	}
	return mem.forget(ctx)
}
