package runners

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"

	"charm.example/github-runner/internal/github"
)

// Removal is one runner removed, and why.
type Removal struct {
	Name   string
	Reason string
}

// Failure is one runner that could not be created or removed.
type Failure struct {
	Name string
	Err  error
}

// Result says what a Reconcile or Flush did.
type Result struct {
	// Wanted is the quantity asked for (Reconcile only).
	Wanted int
	// Before and After count this unit's healthy runners (starting, idle or
	// busy) before and after.
	Before, After int
	// Delta is After - Before: the change in healthy runners.
	Delta int
	// Created lists the runners started.
	Created []string
	// Removed lists the runners (and ghosts) removed, with the reason.
	Removed []Removal
	// Failures lists what could not be done; the rest went on.
	Failures []Failure
	// Busy counts busy runners left alone.
	Busy int
	// Runners are this unit's runners as the reconcile left them: what it
	// saw, less what it removed, plus what it started (as starting). A
	// status can be drawn from it without asking GitHub again.
	Runners []RunnerInfo
}

// Err joins the failures, or is nil.
func (r Result) Err() error {
	var errs []error
	for _, f := range r.Failures {
		errs = append(errs, f.Err)
	}
	return errors.Join(errs...)
}

func (m *Manager) lockPath() string { return filepath.Join(m.cfg.StateDir, "runners.lock") }

// Reconcile brings this unit's runners to quantity, each with res: it removes
// dead runners and GitHub runners of this unit that have no instance, then
// creates the missing runners or removes surplus idle ones, never busy ones.
// It lists LXD and GitHub once each. One runner's failure is cleaned up and
// reported in the Result (and the returned error); the others go on.
func (m *Manager) Reconcile(ctx context.Context, quantity int, res Resources) (Result, error) {
	if quantity < 0 {
		return Result{}, fmt.Errorf("invalid runner quantity %d", quantity)
	}
	if err := res.Validate(m.cfg.InstanceType); err != nil {
		return Result{}, fmt.Errorf("invalid runner resources: %w", err)
	}
	lock, err := acquireLock(ctx, m.lockPath())
	if err != nil {
		return Result{}, err
	}
	defer lock.release()

	snap, err := m.observe(ctx, false)
	if err != nil {
		return Result{}, err
	}
	result := Result{Wanted: quantity}
	var dead, ghosts, starting, idle []RunnerInfo
	for _, r := range snap.runners {
		switch r.State {
		case StateDead:
			dead = append(dead, r)
		case StateGhost:
			ghosts = append(ghosts, r)
		case StateStarting:
			starting = append(starting, r)
		case StateIdle:
			idle = append(idle, r)
		case StateBusy:
			result.Busy++
		}
	}
	healthy := len(starting) + len(idle) + result.Busy
	result.Before = healthy

	// The two-sided sweep. Dead instances are known dead from LXD alone;
	// de-registering them (and ghosts) needs GitHub.
	var removals []removal
	for _, r := range dead {
		removals = append(removals, removal{info: r, reason: "dead: " + r.Reason, deregister: snap.github, instance: true})
	}
	if snap.github {
		for _, r := range ghosts {
			removals = append(removals, removal{info: r, reason: "ghost: " + r.Reason, deregister: true})
		}
	}

	// Without GitHub, no runner can be created (each needs a JIT config) and
	// none judged idle: clean up what is dead and report why.
	var mu sync.Mutex // guards result while removals and creations run
	if !snap.github {
		m.remove(ctx, removals, &result, &mu)
		result.After = healthy
		result.Runners = remaining(snap.runners, result)
		return result, errors.Join(snap.githubErr, result.Err())
	}

	switch diff := quantity - healthy; {
	case diff < 0:
		// Surplus: runners not yet online go first, then the idle ones
		// installed longest ago. Busy runners are never removed.
		candidates := append(sortByAge(starting), sortByAge(idle)...)
		for _, r := range candidates[:min(-diff, len(candidates))] {
			removals = append(removals, removal{info: r, reason: "surplus", deregister: true, instance: true, idleOnly: true, surplus: true})
		}
		m.remove(ctx, removals, &result, &mu)
		healthy -= countSurplus(result.Removed)
	case diff > 0:
		// The dead go while their replacements start: removing an
		// instance that is still shutting down can take seconds.
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.remove(ctx, removals, &result, &mu)
		}()
		m.create(ctx, diff, res, &result, &mu)
		<-done
		healthy += len(result.Created)
	default:
		m.remove(ctx, removals, &result, &mu)
	}
	result.After = healthy
	result.Delta = result.After - result.Before
	result.Runners = remaining(snap.runners, result)
	return result, result.Err()
}

// remaining is seen less what result removed, plus what it created.
func remaining(seen []RunnerInfo, result Result) []RunnerInfo {
	gone := map[string]bool{}
	for _, r := range result.Removed {
		gone[r.Name] = true
	}
	var out []RunnerInfo
	for _, r := range seen {
		if !gone[r.Name] {
			out = append(out, r)
		}
	}
	for _, name := range result.Created {
		out = append(out, RunnerInfo{Name: name, InstanceState: "Running", Healthy: true, State: StateStarting})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func sortByAge(rs []RunnerInfo) []RunnerInfo {
	out := append([]RunnerInfo(nil), rs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].InstalledAt.Before(out[j].InstalledAt) })
	return out
}

const surplusReason = "surplus"

func countSurplus(rs []Removal) int {
	n := 0
	for _, r := range rs {
		if r.Reason == surplusReason {
			n++
		}
	}
	return n
}

// FlushMode says which runners Flush removes.
type FlushMode int

// Flush modes.
const (
	// FlushIdle removes idle runners and runners not yet online; busy ones
	// finish their job.
	FlushIdle FlushMode = iota
	// FlushBusy removes every runner, cancelling running jobs.
	FlushBusy
)

// Flush removes this unit's runners as mode says (de-registering them from
// GitHub and deleting their instances), and dead runners and ghosts with
// them. It needs GitHub: without it no runner can be known to be idle.
func (m *Manager) Flush(ctx context.Context, mode FlushMode) (Result, error) {
	lock, err := acquireLock(ctx, m.lockPath())
	if err != nil {
		return Result{}, err
	}
	defer lock.release()

	snap, err := m.observe(ctx, true)
	if err != nil {
		return Result{}, err
	}
	var result Result
	var removals []removal
	for _, r := range snap.runners {
		if r.State != StateDead && r.State != StateGhost {
			result.Before++
		}
		switch {
		case r.State == StateDead:
			removals = append(removals, removal{info: r, reason: "dead: " + r.Reason, deregister: true, instance: true})
		case r.State == StateGhost:
			removals = append(removals, removal{info: r, reason: "ghost: " + r.Reason, deregister: true})
		case r.State == StateBusy && mode == FlushIdle:
			result.Busy++
		case r.State == StateBusy:
			removals = append(removals, removal{info: r, reason: "flush busy", deregister: true, instance: true, killFirst: true})
		default:
			removals = append(removals, removal{info: r, reason: "flush", deregister: true, instance: true, idleOnly: mode == FlushIdle})
		}
	}
	var mu sync.Mutex
	m.remove(ctx, removals, &result, &mu)
	result.Runners = remaining(snap.runners, result)
	result.After = result.Before
	for _, r := range result.Removed {
		if r.Reason == "flush" || r.Reason == "flush busy" {
			result.After--
		}
	}
	result.Delta = result.After - result.Before
	return result, result.Err()
}

// removal is one runner to remove.
type removal struct {
	info   RunnerInfo
	reason string
	// deregister removes the runner from GitHub; instance deletes the instance.
	deregister, instance bool
	// idleOnly: the runner was idle when looked at; if GitHub now says it is
	// busy, it took a job in the meantime and is left alone.
	idleOnly bool
	// killFirst deletes the instance before de-registering (a busy runner
	// cannot be de-registered while it runs its job).
	killFirst bool
	surplus   bool
}

// remove carries out removals in parallel, recording each in result.
func (m *Manager) remove(ctx context.Context, removals []removal, result *Result, mu *sync.Mutex) {
	parallel(ctx, m.cfg.MaxParallel, len(removals), func(ctx context.Context, i int) {
		r := removals[i]
		err := m.removeOne(ctx, r)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, errTookJob):
			result.Busy++
		case err != nil:
			result.Failures = append(result.Failures, Failure{Name: r.info.Name, Err: err})
		default:
			reason := r.reason
			if r.surplus {
				reason = surplusReason
			}
			result.Removed = append(result.Removed, Removal{Name: r.info.Name, Reason: reason})
		}
	})
	mu.Lock()
	sort.Slice(result.Removed, func(i, j int) bool { return result.Removed[i].Name < result.Removed[j].Name })
	mu.Unlock()
}

// errTookJob: the runner is (still) busy on GitHub and was left alone.
var errTookJob = errors.New("runner busy on GitHub")

func (m *Manager) removeOne(ctx context.Context, r removal) error {
	name, id := r.info.Name, r.info.GitHubID
	deleteInstance := func() error {
		if !r.instance {
			return nil
		}
		if err := m.instances.DeleteInstance(ctx, name); err != nil {
			return fmt.Errorf("cannot delete runner %s: %w", name, err)
		}
		return nil
	}
	if r.killFirst {
		if err := deleteInstance(); err != nil {
			return err
		}
	}
	if r.deregister && id != 0 {
		err := m.github.DeleteRunner(ctx, id)
		switch {
		case errors.Is(err, github.ErrBusy) && r.idleOnly:
			m.log.Info("Runner took a job; leaving it", "runner", name)
			return errTookJob
		case errors.Is(err, github.ErrBusy) && !r.instance:
			// A ghost GitHub still counts a job for (its instance was
			// killed mid-job): it goes once GitHub ends the job.
			m.log.Info("Ghost runner still busy on GitHub; removing it later", "runner", name)
			return errTookJob
		case errors.Is(err, github.ErrBusy):
			// Its instance is gone; GitHub still counts the cancelled job.
			// The next reconcile's sweep de-registers the ghost.
			if r.killFirst {
				m.logRemoved(name, r.reason+" (still registered: GitHub reports the job running)")
				return nil
			}
			return fmt.Errorf("cannot de-register runner %s: %w", name, err)
		case err != nil:
			return fmt.Errorf("cannot de-register runner %s: %w", name, err)
		}
	}
	if !r.killFirst {
		if err := deleteInstance(); err != nil {
			return err
		}
	}
	m.logRemoved(name, r.reason)
	return nil
}

// logRemoved writes the one line every removal logs.
func (m *Manager) logRemoved(name, reason string) {
	m.log.Info("Removed runner", "runner", name, "reason", reason)
}
