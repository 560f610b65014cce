package runners

import (
	"context"
	"fmt"
	"strings"
)

// look lists this unit's runner instances and GitHub runners, once each.
// A GitHub failure is kept in the snapshot, not returned: a reconcile goes
// on with what LXD shows.
func (m *Manager) look(ctx context.Context) (snapshot, error) {
	// The legacy keys (no model) select this unit's instances made before
	// and after the model was part of names; OwnsInstance and
	// OwnsLegacyInstance then keep only this unit's.
	instances, err := m.instances.ListInstances(ctx, m.owner.legacyKeys(RoleRunner))
	if err != nil {
		return snapshot{}, fmt.Errorf("cannot list runner instances: %w", err)
	}
	var snap snapshot
	legacy := map[string]bool{}
	for _, in := range instances {
		switch {
		case m.owner.OwnsInstance(in.Name, in.Config, RoleRunner):
		case m.owner.OwnsLegacyInstance(in.Name, in.Config, RoleRunner):
			legacy[in.Name] = true
		default:
			continue
		}
		snap.instances = append(snap.instances, observed{Instance: in, legacy: legacy[in.Name]})
	}
	ghRunners, err := m.github.ListRunners(ctx, m.owner.ListPrefix())
	if err != nil {
		snap.githubErr = fmt.Errorf("cannot list GitHub runners: %w", err)
	}
	for _, r := range ghRunners {
		// A legacy name is this unit's only with its instance here: the
		// same name may be another model's runner of an app of this name.
		if m.owner.OwnsName(r.Name) || (m.owner.OwnsLegacyName(r.Name) && legacy[r.Name]) {
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
		in.listened = in.alive && strings.TrimSpace(string(res.Stdout)) == listenedMark
		if out, ok := strings.CutPrefix(string(res.Stdout), failedMark); ok && !in.alive && err == nil {
			in.startFailed = strings.TrimSpace(out)
			if in.startFailed == "" {
				in.startFailed = "no output"
			}
		}
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
