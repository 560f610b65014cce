package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/runners"
)

// OwnBtrfsStorage is the runner-storage value for a btrfs pool of the
// unit's own on a loop file.
const OwnBtrfsStorage = "btrfs"

// MinRunnerStorageSize is the smallest runner-storage-size.
const MinRunnerStorageSize = 5 * runners.GiB

// OwnStoragePoolName is the name of the storage pool a unit makes for
// itself with runner-storage=btrfs: its runner name prefix and "pool"
// (github-runner-0-pool).
func OwnStoragePoolName(o runners.Owner) string { return o.Prefix() + "pool" }

// OwnStoragePool is the request that creates the pool of a unit's own:
// btrfs on a sparse loop file of size in LXD's folder.
func OwnStoragePool(o runners.Owner, size string) lxd.StoragePoolsPost {
	return lxd.StoragePoolsPost{
		Name:   OwnStoragePoolName(o),
		Driver: lxd.StorageDriverBtrfs,
		StoragePoolPut: lxd.StoragePoolPut{
			Config:      map[string]string{"size": size},
			Description: "github-runner: runner storage of " + o.Unit,
		},
	}
}

// storagePoolName is the pool the runners of s and o go on.
func storagePoolName(s Settings, o runners.Owner) string {
	if s.RunnerStorage == OwnBtrfsStorage {
		return OwnStoragePoolName(o)
	}
	return s.RunnerStorage
}

// StoragePool is the storage pool the unit's runners and image builder go
// on.
func (p *Pool) StoragePool() string { return storagePoolName(p.settings, p.Owner()) }

// EnsureStorage makes sure the runners' storage pool is there: with
// runner-storage=btrfs it creates the unit's own pool unless it exists
// (a re-deploy or an upgrade reuses it); a named pool must exist. A
// missing named pool, or an LXD without btrfs support, is a
// *config.Error on runner-storage.
func (p *Pool) EnsureStorage(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, LookTimeout)
	defer cancel()
	s := p.settings
	name := p.StoragePool()
	if s.RunnerStorage != OwnBtrfsStorage {
		_, _, err := p.lxd.GetStoragePool(ctx, name)
		if errors.Is(err, lxd.ErrNotFound) {
			return &config.Error{Problems: []config.Problem{{Option: "runner-storage", Text: fmt.Sprintf(
				"runner-storage %q: no such storage pool in LXD (name an existing pool, or btrfs for one of the unit's own)", s.RunnerStorage)}}}
		}
		if err != nil {
			return fmt.Errorf("cannot look up the runner storage: %w", err)
		}
		return nil
	}
	if _, _, err := p.lxd.GetStoragePool(ctx, name); err == nil {
		return nil
	} else if !errors.Is(err, lxd.ErrNotFound) {
		return fmt.Errorf("cannot look up the runner storage: %w", err)
	}
	srv, err := p.lxd.GetServer(ctx)
	if err != nil {
		return fmt.Errorf("cannot reach LXD at %s: %w", p.lxd.Socket(), err)
	}
	if !slices.ContainsFunc(srv.Environment.StorageSupportedDrivers, func(d lxd.StorageDriverInfo) bool { return d.Name == lxd.StorageDriverBtrfs }) {
		return &config.Error{Problems: []config.Problem{{Option: "runner-storage", Text: fmt.Sprintf(
			"runner-storage %q: this machine's LXD has no btrfs support (install btrfs-progs and restart LXD), or name an existing storage pool such as default",
			s.RunnerStorage)}}}
	}
	if err := p.progress(ctx, "creating the runner storage pool "+name); err != nil {
		return err
	}
	if _, err := p.lxd.EnsureStoragePool(ctx, OwnStoragePool(p.Owner(), s.RunnerStorageSize)); err != nil {
		if errors.Is(err, lxd.ErrConflict) {
			return &config.Error{Problems: []config.Problem{{Option: "runner-storage", Text: fmt.Sprintf(
				"runner-storage %q: a storage pool named %s exists with another driver; remove it or name a pool", s.RunnerStorage, name)}}}
		}
		return err
	}
	p.log.Info("runner storage pool created", "pool", name, "size", s.RunnerStorageSize)
	return nil
}

// deleteOwnStorage deletes the unit's own storage pool if there is one
// and nothing else uses it; one still in use is left, with a warning.
func (p *Pool) deleteOwnStorage(ctx context.Context) error {
	name := OwnStoragePoolName(p.Owner())
	sp, _, err := p.lxd.GetStoragePool(ctx, name)
	if errors.Is(err, lxd.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if sp.Driver != lxd.StorageDriverBtrfs || sp.Description != OwnStoragePool(p.Owner(), "").Description {
		p.log.Warn("a storage pool has the unit's pool name but not its making; left as it is", "pool", name)
		return nil
	}
	// Images unpacked on the pool (the base image the builder started
	// from) go with it; anything else using it keeps it.
	var others []string
	for _, u := range sp.UsedBy {
		fp, isImage := strings.CutPrefix(u, "/1.0/images/")
		if !isImage {
			others = append(others, u)
			continue
		}
		fp, _, _ = strings.Cut(fp, "?")
		if err := p.lxd.DeleteStorageVolume(ctx, name, "image", fp); err != nil && !errors.Is(err, lxd.ErrNotFound) {
			return err
		}
	}
	if len(others) > 0 {
		p.log.Warn("the unit's storage pool is still in use; left as it is", "pool", name, "used-by", strings.Join(others, " "))
		return nil
	}
	if err := p.lxd.DeleteStoragePool(ctx, name); err != nil && !errors.Is(err, lxd.ErrNotFound) {
		return err
	}
	p.log.Info("runner storage pool deleted", "pool", name)
	return nil
}
