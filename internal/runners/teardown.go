package runners

import (
	"context"
	"errors"
	"fmt"
)

// RemoveInstances deletes every instance of this unit (runners and image
// builders) from LXD alone, without asking GitHub: the last resort of a
// teardown whose GitHub credentials no longer work. It returns the names
// removed; one that is already gone counts as removed.
func (m *Manager) RemoveInstances(ctx context.Context) ([]string, error) {
	var removed []string
	var errs []error
	for _, role := range []string{RoleRunner, RoleBuilder} {
		list, err := m.cfg.Instances.ListInstances(ctx, m.owner.legacyKeys(role))
		if err != nil {
			return removed, fmt.Errorf("cannot list the unit's instances: %w", err)
		}
		for _, in := range list {
			if !m.owner.OwnsInstance(in.Name, in.Config, role) && !m.owner.OwnsLegacyInstance(in.Name, in.Config, role) {
				continue
			}
			if err := m.cfg.Instances.DeleteInstance(ctx, in.Name); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, in.Name)
		}
	}
	return removed, errors.Join(errs...)
}

// DeleteRunnerImage deletes the runner image and its alias; a missing one
// is fine.
func (m *Manager) DeleteRunnerImage(ctx context.Context) error {
	fp, err := m.cfg.Instances.ImageAlias(ctx, m.cfg.ImageAlias)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot look up the runner image: %w", err)
	}
	if err := m.cfg.Instances.DeleteImage(ctx, fp); err != nil {
		return fmt.Errorf("cannot delete the runner image: %w", err)
	}
	// Deleting the image takes its alias with it; this is for an alias
	// left pointing at an image that was already gone.
	if err := m.cfg.Instances.DeleteImageAlias(ctx, m.cfg.ImageAlias); err != nil {
		return fmt.Errorf("cannot delete the runner image alias: %w", err)
	}
	return nil
}
