package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/proxytest"
	"charm.example/github-runner/internal/runners"
)

// Realistic is the scale-up on the Debian test image (systemd, apt; a
// runner image of some hundreds of MB), on a dir pool and on the charm's
// default runner storage, a btrfs pool on a loop file.
type Realistic struct {
	N int
	// ImageBuild is the runner image build from the Debian test image,
	// with image-packages installed by apt through a local proxy.
	ImageBuild time.Duration
	Packages   string
	// ImageSize is the runner image's compressed size.
	ImageSize int64
	// Pools are the measures, dir first.
	Pools []PoolScaleUp
}

// PoolScaleUp is the scale-up on one storage pool.
type PoolScaleUp struct {
	Name, Driver string
	// Floor: N raw parallel launches of the runner image on the pool.
	Floor []time.Duration
	// Ours: Reconcile(N) on the pool until N runners are online.
	Ours []time.Duration
}

// realisticPackages is what the realistic runner image installs: wget,
// which the simulator's stand-in runner needs and the Debian image lacks.
const realisticPackages = "wget"

// realistic measures Realistic: it builds a runner image from the Debian
// test image through a tinyproxy on loopback, then, in rotated order each
// round, N raw launches and a scale-up to N on the test LXD's dir pool
// (`default`) and on a btrfs pool made as the charm makes its own.
func (b *bench) realistic(ctx context.Context, rep *Report) error {
	c := b.r.LXD
	base := lxdtest.DebianImageAlias()
	if _, err := c.GetImageAlias(ctx, base); err != nil {
		return fmt.Errorf("the Debian test image %q is missing (make debian-image): %w", base, err)
	}
	dir, err := os.MkdirTemp(b.r.Dir(), "proxy-")
	if err != nil {
		return err
	}
	px, err := proxytest.Start(ctx, proxytest.Options{Dir: dir})
	if err != nil {
		return err
	}
	defer px.Close()
	profile := lxdtest.UniqueName("bench-aptproxy")
	if err := c.CreateProfile(ctx, lxd.ProfilesPost{Name: profile, ProfilePut: lxd.ProfilePut{
		Description: "github-runner bench: the apt proxy on the instance's 127.0.0.1",
		Devices:     map[string]map[string]string{"apt-proxy": lxdtest.LoopbackProxy(px.Port)},
	}}); err != nil {
		return fmt.Errorf("cannot create the proxy profile: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := c.DeleteProfile(cctx, profile); err != nil {
			b.log.Warn("cannot delete the proxy profile", "error", err)
		}
	}()

	start := time.Now()
	dr, err := rig.New(ctx, rig.Options{
		Socket: b.r.Socket(), BaseImage: base, Name: "bench-debian", Logger: b.log,
		ImagePackages: strings.Split(realisticPackages, ","), ImageProfiles: []string{profile},
		ImageProxy: runners.Proxy{HTTP: px.URL},
	})
	if err != nil {
		return fmt.Errorf("cannot build the Debian runner image: %w", err)
	}
	build := time.Since(start)
	db := &bench{r: dr, log: b.log, s: b.s}
	defer func() {
		db.cleanAll()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := dr.Close(cctx); err != nil {
			b.log.Warn("cannot tear the Debian rig down", "error", err)
		}
	}()
	re := Realistic{N: b.s.n, ImageBuild: build, Packages: realisticPackages}
	if a, err := c.GetImageAlias(ctx, dr.Image); err == nil {
		if img, err := c.GetImage(ctx, a.Target); err == nil {
			re.ImageSize = img.Size
		}
	}
	b.log.Info("Debian runner image built", "took", build.Round(time.Millisecond), "size-mib", re.ImageSize>>20)

	// The charm's default runner storage, made by the same request.
	u, err := db.unit("storage")
	if err != nil {
		return err
	}
	own := pool.OwnStoragePool(u.Owner, "30GiB")
	if _, err := c.EnsureStoragePool(ctx, own); err != nil {
		return fmt.Errorf("cannot create the btrfs pool: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		db.cleanAll() // the pool's instances go first
		if err := deletePool(cctx, c, own.Name); err != nil {
			b.log.Warn("cannot delete the btrfs pool", "error", err)
		}
	}()
	re.Pools = []PoolScaleUp{{Name: "default", Driver: lxd.StorageDriverDir}, {Name: own.Name, Driver: lxd.StorageDriverBtrfs}}
	// A copy-on-write pool unpacks an image once, at its first launch
	// there; runners after a rebuild pay that once, not per runner. Warm
	// each pool so that every round measures the same thing.
	for _, p := range re.Pools {
		if _, err := db.floorOn(ctx, 1, p.Name); err != nil {
			return fmt.Errorf("warming pool %s: %w", p.Name, err)
		}
	}

	n := b.s.n
	var variants []func(context.Context) error
	for i := range re.Pools {
		p := &re.Pools[i]
		variants = append(variants,
			func(ctx context.Context) error {
				d, err := db.floorOn(ctx, n, p.Name)
				p.Floor = append(p.Floor, d)
				return err
			},
			func(ctx context.Context) error {
				d, _, err := db.managerUpOn(ctx, n, runners.DefaultMaxParallel, p.Name)
				p.Ours = append(p.Ours, d)
				return err
			})
	}
	for round := 0; round < b.s.rounds; round++ {
		for i := range variants {
			if err := variants[(i+round)%len(variants)](ctx); err != nil {
				return err
			}
		}
		b.log.Info("realistic scale-up round done", "round", round+1,
			"dir-floor", last(re.Pools[0].Floor), "dir-ours", last(re.Pools[0].Ours),
			"btrfs-floor", last(re.Pools[1].Floor), "btrfs-ours", last(re.Pools[1].Ours))
	}
	rep.Realistic = &re
	return nil
}

// deletePool deletes a storage pool and the image volumes on it.
func deletePool(ctx context.Context, c *lxd.Client, name string) error {
	p, _, err := c.GetStoragePool(ctx, name)
	if errors.Is(err, lxd.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, u := range p.UsedBy {
		if fp, ok := strings.CutPrefix(u, "/1.0/images/"); ok {
			fp, _, _ = strings.Cut(fp, "?")
			if err := c.DeleteStorageVolume(ctx, name, "image", fp); err != nil && !errors.Is(err, lxd.ErrNotFound) {
				return err
			}
		}
	}
	return c.DeleteStoragePool(ctx, name)
}
