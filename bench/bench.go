package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/runners"
)

// bench holds what the measures share.
type bench struct {
	r   *rig.Rig
	log *slog.Logger
	s   settings

	// charm is the deployed charm unit, when the replacement measure
	// could deploy it.
	charm *rig.CharmUnit

	mu    sync.Mutex
	units []rig.Unit
}

// unit makes a fresh unit, removed again by cleanAll.
func (b *bench) unit(prefix string) (rig.Unit, error) {
	u, err := b.r.NewUnit(prefix)
	if err != nil {
		return rig.Unit{}, err
	}
	b.mu.Lock()
	b.units = append(b.units, u)
	b.mu.Unlock()
	return u, nil
}

// clean removes a unit's instances and GitHub runners.
func (b *bench) clean(ctx context.Context, u rig.Unit) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
	defer cancel()
	return b.r.Clean(cctx, u)
}

// cleanAll removes what every unit left.
func (b *bench) cleanAll() {
	b.mu.Lock()
	units := append([]rig.Unit(nil), b.units...)
	b.mu.Unlock()
	for _, u := range units {
		if err := b.clean(context.Background(), u); err != nil {
			b.log.Warn("cannot clean up a unit", "unit", u.Name, "error", err)
		}
	}
}

// manager returns a runner manager of u with maxParallel (0: the default)
// and the given labels (nil: the rig's).
func (b *bench) manager(u rig.Unit, maxParallel int, labels ...string) (*runners.Manager, error) {
	return b.r.Manager(u, func(c *runners.Config) {
		if maxParallel > 0 {
			c.MaxParallel = maxParallel
		}
		if len(labels) > 0 {
			c.Labels = labels
		}
	})
}
