package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/runners"
)

// Rate is what reconciles cost of the primary rate limit, in points as the
// simulator charges them (a 304 answer to a conditional request costs
// none, as on GitHub), without the listing cache (every hook process lists
// every page afresh) and with it (the unit's state folder keeps the
// listings' answers and revalidates them).
type Rate struct {
	Foreign, Pages int
	// Steady is a reconcile with nothing changed since the unit's last one.
	Steady [2]int
	// Stale is a reconcile with nothing to do for the unit, after another
	// unit's runner took a job and was replaced.
	Stale [2]int
	// Job is the reconcile that replaces the unit's own runner after its
	// job.
	Job [2]int

	// The hour's model.
	Units, JobsPerHour, Interval int
}

// Index of Rate's pairs.
const (
	noCache = iota
	withCache
)

// Hour is what Units units on one token spend in an hour, each with
// JobsPerHour jobs (a reconcile replacing the runner after each) and a
// timer reconcile every Interval minutes. With that many jobs among the
// units, the listing always changed between two timer ticks of a unit:
// ticks cost Stale.
func (rt *Rate) Hour(i int) int {
	ticks := 60 / rt.Interval
	return rt.Units * (rt.JobsPerHour*rt.Job[i] + ticks*rt.Stale[i])
}

// rate measures Rate with two units of one runner each, every reconcile
// through a fresh GitHub client, as in a hook process of its own.
func (b *bench) rate(ctx context.Context, rep *Report) error {
	if err := b.ensureForeign(); err != nil {
		return err
	}
	rt := &Rate{Foreign: b.s.foreign, Units: 10, JobsPerHour: 20, Interval: 10}
	for _, mode := range []int{noCache, withCache} {
		if err := b.rateOnce(ctx, rt, mode); err != nil {
			return err
		}
	}
	rt.Pages = (rt.Foreign + 2 + 99) / 100
	b.log.Info("rate-limit points", "steady", rt.Steady, "stale", rt.Stale, "job", rt.Job,
		"hour-before", rt.Hour(noCache), "hour-after", rt.Hour(withCache))
	rep.Rate = rt
	return nil
}

// ensureForeign adds the foreign runners the steady measure would have.
func (b *bench) ensureForeign() error {
	have := 0
	for _, r := range b.r.Sim.Runners(b.r.Org) {
		if strings.HasPrefix(r.Name, "foreign-") {
			have++
		}
	}
	for i := have; i < b.s.foreign; i++ {
		if _, err := b.r.Sim.AddRunner(b.r.Org, githubtest.RunnerSeed{
			Name: fmt.Sprintf("foreign-%04d", i), Labels: []string{"foreign"}, Online: i%3 != 0, Busy: i%7 == 0,
		}); err != nil {
			return err
		}
	}
	return nil
}

// rateUnit is one unit of the rate measure.
type rateUnit struct {
	u     rig.Unit
	label string
	cache string
}

// reconcile runs one reconcile of ru through a fresh client and returns
// the points it cost.
func (b *bench) rateReconcile(ctx context.Context, ru rateUnit) (int, error) {
	gh, err := b.r.GitHub(func(c *github.Config) { c.CacheDir = ru.cache })
	if err != nil {
		return 0, err
	}
	cfg := b.r.ManagerConfig(ru.u, gh)
	cfg.Labels = []string{ru.label}
	m, err := runners.New(ru.u.App, ru.u.Name, cfg)
	if err != nil {
		return 0, err
	}
	before, stats := b.r.Sim.RESTStats().RatePoints, b.r.Sim.Stats()
	if _, err := m.Reconcile(ctx, 1, rig.Resources); err != nil {
		return 0, fmt.Errorf("reconcile %s: %w", ru.u.Name, err)
	}
	for k, v := range b.r.Sim.Stats() {
		if d := v.RatePoints - stats[k].RatePoints; d > 0 || v.NotModified > stats[k].NotModified {
			b.log.Debug("reconcile cost", "unit", ru.u.Name, "cache", ru.cache != "", "endpoint", k,
				"points", d, "not-modified", v.NotModified-stats[k].NotModified)
		}
	}
	return b.r.Sim.RESTStats().RatePoints - before, nil
}

func (b *bench) rateOnce(ctx context.Context, rt *Rate, mode int) error {
	var units [2]rateUnit
	for i := range units {
		u, err := b.unit(fmt.Sprintf("rate%d", i))
		if err != nil {
			return err
		}
		units[i] = rateUnit{u: u, label: fmt.Sprintf("rate-%s", u.App)}
		if mode == withCache {
			units[i].cache = filepath.Join(u.StateDir, pool.GitHubCacheDirName)
		}
		if _, err := b.rateReconcile(ctx, units[i]); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err = b.r.WaitOnline(wctx, u, 1)
		cancel()
		if err != nil {
			return err
		}
	}
	a, o := units[0], units[1]
	// Warm: the first listing after the runners came online.
	if _, err := b.rateReconcile(ctx, a); err != nil {
		return err
	}
	var err error
	if rt.Steady[mode], err = b.rateReconcile(ctx, a); err != nil {
		return err
	}
	if _, err := b.rateReconcile(ctx, o); err != nil {
		return err
	}

	// The other unit's runner takes a job, is gone, and is replaced.
	job := b.r.Sim.QueueJob([]string{o.label}, time.Second)
	if _, err := b.r.Sim.WaitForJob(ctx, job, githubtest.JobCompleted); err != nil {
		return err
	}
	if err := b.r.Sim.WaitFor(ctx, func() bool { return len(b.r.GitHubRunners(o.u)) == 0 }); err != nil {
		return err
	}
	if rt.Job[mode], err = b.rateReconcile(ctx, o); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = b.r.WaitOnline(wctx, o.u, 1)
	cancel()
	if err != nil {
		return err
	}
	if rt.Stale[mode], err = b.rateReconcile(ctx, a); err != nil {
		return err
	}
	for _, ru := range units {
		if err := b.clean(ctx, ru.u); err != nil {
			return err
		}
	}
	return nil
}

// rateMarkdown writes the rate-limit section.
func (rt *Rate) markdown(w func(string, ...any)) {
	w("## Rate-limit points per reconcile, and per hour for %d units on one token\n\n", rt.Units)
	w("Points of GitHub's primary rate limit, as the simulator charges them (one per request, none for a `304 Not\n")
	w("Modified` answer to a conditional request, as GitHub does), with %d foreign runners in the organisation\n", rt.Foreign)
	w("(%d pages of runners). Every reconcile runs through a fresh GitHub client, as each hook process does.\n", rt.Pages)
	w("Without the cache every reconcile lists every page; with it (`github-cache` in the unit's state folder)\n")
	w("every listing is revalidated with `If-None-Match` and a page that did not change costs nothing.\n\n")
	w("| reconcile | points, no cache | points, with the cache |\n|---|---|---|\n")
	w("| steady: nothing changed since the unit's last reconcile | %d | %d |\n", rt.Steady[noCache], rt.Steady[withCache])
	w("| nothing to do, after another unit's runner took a job and was replaced | %d | %d |\n", rt.Stale[noCache], rt.Stale[withCache])
	w("| replacing the unit's own runner after its job (listing, runner groups, JIT configuration) | %d | %d |\n\n", rt.Job[noCache], rt.Job[withCache])
	w("**%d units on one token**, %d jobs an hour each, the timer every %d minutes (the default): **%d points an hour\n",
		rt.Units, rt.JobsPerHour, rt.Interval, rt.Hour(noCache))
	w("without the cache, %d with it** (of a personal token's 5,000). The hour is computed from the measured rows:\n", rt.Hour(withCache))
	w("each unit makes %d replacing reconciles and %d timer reconciles; with %d jobs an hour among the units the\n",
		rt.JobsPerHour, 60/rt.Interval, rt.Units*rt.JobsPerHour)
	w("listing has always changed between two ticks of a unit, so a tick costs the middle row, not the first.\n")
	w("Every page of a listing carries the organisation's `total_count`, so a runner added or removed anywhere\n")
	w("changes every page's ETag: the replacing reconcile gains little, and a tick that comes while the count\n")
	w("differs from the cached one pays every page, up to %d points an hour with the cache in the worst case.\n",
		rt.Units*(rt.JobsPerHour*rt.Job[withCache]+60/rt.Interval*rt.Steady[noCache]))
	w("A quiet hour (timer reconciles only, no jobs) costs the %d units %d points without the cache and %d with it.\n\n",
		rt.Units, rt.Units*60/rt.Interval*rt.Steady[noCache], rt.Units*60/rt.Interval*rt.Steady[withCache])
}
