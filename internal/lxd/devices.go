package lxd

// RootDisk returns the root disk device of an instance whose rootfs lives
// on the storage pool pool, such as
//
//	Devices: map[string]map[string]string{"root": lxd.RootDisk("btrfs-pool", "10GiB")}
//
// Named "root", it replaces the root disk of the instance's profiles. size
// ("10GiB") limits the disk where the pool's driver can (btrfs quotas, not
// dir); empty leaves it unlimited.
func RootDisk(pool, size string) map[string]string {
	d := map[string]string{"type": "disk", "path": "/", "pool": pool}
	if size != "" {
		d["size"] = size
	}
	return d
}
