package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/runners"
)

// ScaleUp is the time to take a unit from 0 to N runners online.
type ScaleUp struct {
	N int
	// Floor: N raw parallel launches (create, start, first exec) through
	// the LXD API, from the same image with the same profiles and limits.
	Floor []time.Duration
	// Ours: Reconcile(N) with the default max-parallel-launches, then until
	// the simulator shows N online. OursReturn: until Reconcile returned.
	Ours, OursReturn []time.Duration
	// Narrow: the same with max-parallel-launches = NarrowParallel.
	Narrow []time.Duration
	// Sequential: the same with max-parallel-launches = 1, the reference's
	// one-at-a-time creation without its fixed sleeps.
	Sequential []time.Duration
}

// NarrowParallel is the smaller max-parallel-launches compared with the
// default.
const NarrowParallel = 4

// scaleUp measures ScaleUp, each round running its four variants in a
// rotated order so that drift in the machine's load spreads over all.
func (b *bench) scaleUp(ctx context.Context, rep *Report) error {
	n := b.s.n
	su := ScaleUp{N: n}
	variants := []func(context.Context) error{
		func(ctx context.Context) error {
			d, err := b.floor(ctx, n)
			su.Floor = append(su.Floor, d)
			return err
		},
		func(ctx context.Context) error {
			d, ret, err := b.managerUp(ctx, n, runners.DefaultMaxParallel)
			su.Ours, su.OursReturn = append(su.Ours, d), append(su.OursReturn, ret)
			return err
		},
		func(ctx context.Context) error {
			d, _, err := b.managerUp(ctx, n, NarrowParallel)
			su.Narrow = append(su.Narrow, d)
			return err
		},
		func(ctx context.Context) error {
			d, _, err := b.managerUp(ctx, n, 1)
			su.Sequential = append(su.Sequential, d)
			return err
		},
	}
	for round := 0; round < b.s.rounds; round++ {
		for i := range variants {
			if err := variants[(i+round)%len(variants)](ctx); err != nil {
				return err
			}
		}
		b.log.Info("scale-up round done", "round", round+1, "floor", last(su.Floor), "ours", last(su.Ours),
			"narrow", last(su.Narrow), "sequential", last(su.Sequential))
	}
	rep.ScaleUp = &su
	return nil
}

func last(ds []time.Duration) time.Duration { return ds[len(ds)-1].Round(time.Millisecond) }

// floor launches n instances in parallel straight through the LXD API, as
// the manager would launch them, and waits until each runs a command.
func (b *bench) floor(ctx context.Context, n int) (time.Duration, error) {
	return b.floorOn(ctx, n, "default")
}

// floorOn is floor with the root disks on the storage pool pool.
func (b *bench) floorOn(ctx context.Context, n int, pool string) (time.Duration, error) {
	u, err := b.unit("floor")
	if err != nil {
		return 0, err
	}
	defer b.clean(ctx, u)
	res := rig.Resources
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := u.Owner.NewName()
			config := u.Owner.Keys(runners.RoleRunner)
			config["limits.cpu"] = strconv.Itoa(res.CPU)
			config["limits.memory"] = runners.FormatSize(res.Memory)
			req := lxd.InstancesPost{
				Name:   name,
				Type:   lxd.InstanceTypeContainer,
				Source: lxd.LocalImage(b.r.Image),
				InstancePut: lxd.InstancePut{
					Config:    config,
					Ephemeral: true,
					Profiles:  []string{"default", b.r.Profile},
					Devices:   map[string]map[string]string{"root": lxd.RootDisk(pool, runners.FormatSize(res.Disk))},
				},
			}
			if err := b.r.LXD.LaunchInstance(ctx, req); err != nil {
				errs[i] = err
				return
			}
			errs[i] = b.r.LXD.WaitInstanceReady(ctx, name)
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("raw launches: %w", err)
	}
	return d, nil
}

// managerUp reconciles a fresh unit to n runners with maxParallel and
// returns the time until n are online and the time Reconcile took.
func (b *bench) managerUp(ctx context.Context, n, maxParallel int) (online, returned time.Duration, err error) {
	return b.managerUpOn(ctx, n, maxParallel, "")
}

// managerUpOn is managerUp with the runners on the storage pool pool
// ("": the manager's default).
func (b *bench) managerUpOn(ctx context.Context, n, maxParallel int, pool string) (online, returned time.Duration, err error) {
	u, err := b.unit("scale")
	if err != nil {
		return 0, 0, err
	}
	defer b.clean(ctx, u)
	m, err := b.r.Manager(u, func(c *runners.Config) {
		if maxParallel > 0 {
			c.MaxParallel = maxParallel
		}
		c.StoragePool = pool
	})
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	res, err := m.Reconcile(ctx, n, rig.Resources)
	returned = time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("reconcile to %d (max-parallel %d): %w", n, maxParallel, err)
	}
	if len(res.Created) != n {
		return 0, 0, fmt.Errorf("reconcile to %d created %d runners", n, len(res.Created))
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := b.r.WaitOnline(wctx, u, n); err != nil {
		return 0, 0, err
	}
	online = time.Since(start)
	// Tear down as the charm would, in parallel, before the next measure.
	if _, err := m.Flush(ctx, runners.FlushBusy); err != nil {
		return 0, 0, fmt.Errorf("flush: %w", err)
	}
	return online, returned, nil
}
