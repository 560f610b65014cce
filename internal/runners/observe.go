package runners

import (
	"context"
	"fmt"
)

// look lists this unit's runner instances and GitHub runners, once each.
// A GitHub failure is kept in the snapshot, not returned: a reconcile goes
// on with what LXD shows.
func (m *Manager) look(ctx context.Context) (snapshot, error) {
	instances, err := m.instances.ListInstances(ctx, m.owner.Keys(RoleRunner))
	if err != nil {
		return snapshot{}, fmt.Errorf("cannot list runner instances: %w", err)
	}
	var snap snapshot
	for _, in := range instances {
		if m.owner.OwnsInstance(in.Name, in.Config, RoleRunner) {
			snap.instances = append(snap.instances, observed{Instance: in})
		}
	}
	ghRunners, err := m.github.ListRunners(ctx, m.owner.Prefix())
	if err != nil {
		snap.githubErr = fmt.Errorf("cannot list GitHub runners: %w", err)
	}
	for _, r := range ghRunners {
		if m.owner.OwnsName(r.Name) {
			snap.github = append(snap.github, r)
		}
	}
	snap.now = m.cfg.Now()
	return snap, nil
}

// probe checks, in parallel, whether each running instance's runner
// process is alive, and dates the snapshot after.
func (m *Manager) probe(ctx context.Context, snap *snapshot) {
	parallel(ctx, m.cfg.MaxParallel, len(snap.instances), func(ctx context.Context, i int) {
		in := &snap.instances[i]
		if !in.Running {
			return
		}
		res, err := m.instances.Exec(ctx, in.Name, Command{Args: aliveCheck})
		in.alive = err == nil && res.ExitCode == 0
		if err != nil {
			m.log.Debug("cannot check runner process", "runner", in.Name, "error", err)
		}
	})
	snap.now = m.cfg.Now()
}

// observe is look, then probe.
func (m *Manager) observe(ctx context.Context) (snapshot, error) {
	snap, err := m.look(ctx)
	if err != nil {
		return snapshot{}, err
	}
	m.probe(ctx, &snap)
	return snap, nil
}
