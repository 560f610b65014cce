package hooks

import (
	"context"
	"errors"

	"charm.example/github-runner/internal/juju"
)

// ErrNotWired fails the actions until the runner manager is wired in.
var ErrNotWired = errors.New("not available yet: the runner manager is not wired in")

// Deps are the charm's collaborators, given by main. The runner manager
// joins here when it is wired in.
type Deps struct{}

// Charm is the charm's behaviour, one method per event.
type Charm struct {
	deps Deps
}

// New returns the charm with its collaborators.
func New(deps Deps) *Charm {
	return &Charm{deps: deps}
}

// Handlers is the charm's routing table.
func (c *Charm) Handlers() Handlers {
	return Handlers{
		Hooks: map[string]Handler{
			"install":        c.ensure,
			"leader-elected": c.ensure,
			"config-changed": c.ensure,
			"start":          c.ensure,
			"upgrade-charm":  c.ensure,
			"update-status":  c.ensure,
			"stop":           c.stop,
			"remove":         c.stop,
		},
		Actions: map[string]Handler{
			"check-runners":     c.notWired,
			"reconcile-runners": c.notWired,
			"flush-runners":     c.notWired,
			"build-image":       c.notWired,
			"update-runner-bin": c.notWired,
		},
		Events: map[string]Handler{
			"reconcile-runners":  c.ensure,
			"build-runner-image": c.ensure,
		},
	}
}

// ensure brings the unit to what the configuration asks. Every hook runs
// it: config-changed carries no diff, so everything is re-read, and running
// it twice changes nothing.
func (c *Charm) ensure(ctx context.Context, ev Event) error {
	cfg, err := LoadConfig(ctx, ev.Juju)
	if err != nil {
		return err
	}
	ev.Log.Debug("configuration valid", "path", cfg.Path, "token-from-secret", cfg.TokenSecret != "",
		"virtual-machines", cfg.VirtualMachines, "instance-type", cfg.InstanceType)
	return ev.Juju.SetStatus(ctx, juju.Active("ready"))
}

// stop runs for stop and remove: there is nothing of the charm's to tear
// down until the runner manager is wired in.
func (c *Charm) stop(_ context.Context, ev Event) error {
	ev.Log.Debug("nothing to tear down", "event", ev.Name)
	return nil
}

// notWired is every action until the runner manager is wired in: it
// reports configuration problems first, then fails with ErrNotWired.
func (c *Charm) notWired(ctx context.Context, ev Event) error {
	if _, err := LoadConfig(ctx, ev.Juju); err != nil {
		return err
	}
	return ErrNotWired
}
