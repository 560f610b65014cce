package lxd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// GetStoragePool returns a storage pool and its ETag. LXD 5.0 sends no ETag
// for pools: the ETag is then empty.
func (c *Client) GetStoragePool(ctx context.Context, name string) (*StoragePool, string, error) {
	var p StoragePool
	etag, err := c.query(ctx, request{method: http.MethodGet, path: poolPath(name)}, &p)
	if err != nil {
		return nil, "", fmt.Errorf("cannot get storage pool %q: %w", name, err)
	}
	return &p, etag, nil
}

// CreateStoragePool creates a storage pool. An existing pool of that name is
// an error matching [ErrConflict].
func (c *Client) CreateStoragePool(ctx context.Context, req StoragePoolsPost) error {
	_, err := c.query(ctx, request{method: http.MethodPost, path: "/1.0/storage-pools", body: req}, nil)
	if err == nil {
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) && !errors.Is(err, ErrConflict) {
		// The daemon's answer for an existing name is not always a 409.
		if _, _, gerr := c.GetStoragePool(ctx, req.Name); gerr == nil {
			err = fmt.Errorf("%w (%w)", ErrConflict, err)
		}
	}
	return fmt.Errorf("cannot create storage pool %q: %w", req.Name, err)
}

// DeleteStoragePool deletes an unused storage pool. A missing pool is an
// error matching [ErrNotFound].
func (c *Client) DeleteStoragePool(ctx context.Context, name string) error {
	if _, err := c.query(ctx, request{method: http.MethodDelete, path: poolPath(name)}, nil); err != nil {
		return fmt.Errorf("cannot delete storage pool %q: %w", name, err)
	}
	return nil
}

// Storage pool drivers (LXD has more; these are the ones this project uses).
const (
	// StorageDriverDir keeps each volume as a plain folder: every instance
	// gets a full copy of its image's rootfs.
	StorageDriverDir = "dir"
	// StorageDriverBtrfs keeps volumes as btrfs subvolumes: an image is
	// unpacked once per pool and each instance starts as a snapshot of it
	// (copy-on-write). Without a "source" in its config the pool lives on a
	// sparse loop file in the daemon's folder, of the config's "size"
	// (LXD's default: a fifth of the free space, at least 5GiB, at most
	// 30GiB). The host needs btrfs-progs.
	StorageDriverBtrfs = "btrfs"
)

// EnsureStoragePool creates the storage pool req describes unless a pool of
// that name exists, and returns the pool. An existing pool with another
// driver is an error matching [ErrConflict]; an existing pool's config is
// left as it is (a loop file's size, for one, cannot shrink).
func (c *Client) EnsureStoragePool(ctx context.Context, req StoragePoolsPost) (*StoragePool, error) {
	p, _, err := c.GetStoragePool(ctx, req.Name)
	if errors.Is(err, ErrNotFound) {
		// Another caller creating it meanwhile is fine: it is then there.
		if err = c.CreateStoragePool(ctx, req); err == nil || errors.Is(err, ErrConflict) {
			p, _, err = c.GetStoragePool(ctx, req.Name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot ensure storage pool %q: %w", req.Name, err)
	}
	if p.Driver != req.Driver {
		return nil, fmt.Errorf("cannot ensure storage pool %q: it exists with driver %q, not %q: %w", req.Name, p.Driver, req.Driver, ErrConflict)
	}
	return p, nil
}

// DeleteStorageVolume deletes a volume of a storage pool: typ is "image"
// (an image unpacked on the pool for its instances to start from, which
// the image itself outlives; name is its fingerprint), "custom",
// "container" or "virtual-machine". A missing volume is an error matching
// [ErrNotFound].
func (c *Client) DeleteStorageVolume(ctx context.Context, pool, typ, name string) error {
	path := poolPath(pool) + "/volumes/" + escape(typ) + "/" + escape(name)
	if _, err := c.query(ctx, request{method: http.MethodDelete, path: path}, nil); err != nil {
		return fmt.Errorf("cannot delete storage volume %s/%s of pool %q: %w", typ, name, pool, err)
	}
	return nil
}

func poolPath(name string) string { return "/1.0/storage-pools/" + escape(name) }
