package runners

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"charm.example/github-runner/internal/github"
)

// Removal is one runner removed, and why.
type Removal struct {
	Name   string
	Reason Reason
}

// Failure is one runner that could not be created or removed.
type Failure struct {
	Name string
	// Err is a *CreateError when Creating.
	Err error
	// Creating is true for a runner being created, false for one being
	// removed.
	Creating bool
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
	// Observed is true once LXD was listed: then Runners is complete
	// (without GitHub, every live runner counts as starting).
	Observed bool
}

// Err joins the failures, or is nil.
func (r Result) Err() error {
	var errs []error
	for _, f := range r.Failures {
		errs = append(errs, f.Err)
	}
	return errors.Join(errs...)
}

// Reconcile brings this unit's runners to quantity, each with res: it removes
// dead runners and GitHub runners of this unit that have no instance, then
// creates the missing runners or removes surplus idle ones, never busy ones.
// It lists LXD and GitHub once each. One runner's failure is cleaned up and
// reported in the Result (and the returned error); the others go on.
// Without GitHub it removes only the dead instances and returns GitHub's
// error.
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

	snap, err := m.observe(ctx)
	if err != nil {
		return Result{}, err
	}
	p := decide(snap, goal{wanted: quantity, bootstrapTimeout: m.cfg.BootstrapTimeout})
	result := m.act(ctx, p, res)
	result.Wanted = quantity
	return result, errors.Join(snap.githubErr, result.Err())
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

	snap, err := m.look(ctx)
	if err != nil {
		return Result{}, err
	}
	if snap.githubErr != nil {
		return Result{}, snap.githubErr
	}
	m.probe(ctx, &snap)
	p := decide(snap, goal{flush: true, mode: mode, bootstrapTimeout: m.cfg.BootstrapTimeout})
	result := m.act(ctx, p, Resources{})
	return result, result.Err()
}

// act carries out a plan. The removals run while the new runners start:
// removing an instance that is still shutting down can take seconds.
func (m *Manager) act(ctx context.Context, p plan, res Resources) Result {
	if len(p.actions) > 0 {
		m.log.Debug("Runner plan", "unit", m.owner.Unit, "actions", p.String())
	}
	var result Result
	var removals []action
	create := 0
	for _, a := range p.actions {
		switch a.do {
		case actCreate:
			create += a.count
		case actLeaveBusy:
			result.Busy++
		case actRemove, actDeleteGhost:
			removals = append(removals, a)
		}
	}
	var mu sync.Mutex // guards result while removals and creations run
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.remove(ctx, removals, &result, &mu)
	}()
	if create > 0 {
		m.create(ctx, create, res, &result, &mu)
	}
	<-done
	sort.Slice(result.Removed, func(i, j int) bool { return result.Removed[i].Name < result.Removed[j].Name })

	for _, r := range p.runners {
		if r.Healthy {
			result.Before++
		}
	}
	result.After = result.Before + len(result.Created)
	for _, r := range result.Removed {
		if r.Reason.Kind.healthy() {
			result.After--
		}
	}
	result.Delta = result.After - result.Before
	result.Runners = remaining(p.runners, result)
	result.Observed = true
	return result
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

// remove carries out removals in parallel, recording each in result.
func (m *Manager) remove(ctx context.Context, removals []action, result *Result, mu *sync.Mutex) {
	parallel(ctx, m.cfg.MaxParallel, len(removals), func(ctx context.Context, i int) {
		a := removals[i]
		err := m.removeOne(ctx, a)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, errTookJob):
			result.Busy++
		case err != nil:
			result.Failures = append(result.Failures, Failure{Name: a.name, Err: err})
		default:
			result.Removed = append(result.Removed, Removal{Name: a.name, Reason: a.reason})
		}
	})
}

// errTookJob: the runner is (still) busy on GitHub and was left alone.
var errTookJob = errors.New("runner busy on GitHub")

// removeOne carries out one actRemove or actDeleteGhost.
func (m *Manager) removeOne(ctx context.Context, a action) error {
	hasInstance := a.do == actRemove
	deleteInstance := func() error {
		if !hasInstance {
			return nil
		}
		if err := m.instances.DeleteInstance(ctx, a.name); err != nil {
			return fmt.Errorf("cannot delete runner %s: %w", a.name, err)
		}
		return nil
	}
	if hasInstance && a.reason.Kind.keepsLogs() {
		m.saveDeadLogs(ctx, a.name)
	}
	if a.killFirst {
		if err := deleteInstance(); err != nil {
			return err
		}
	}
	if a.deregister && a.id != 0 {
		err := m.github.DeleteRunner(ctx, a.id)
		switch {
		case errors.Is(err, github.ErrBusy) && a.ifIdle:
			m.log.Info("Runner took a job; leaving it", "runner", a.name)
			return errTookJob
		case errors.Is(err, github.ErrBusy) && !hasInstance:
			// A ghost GitHub still counts a job for (its instance was
			// killed mid-job): it goes once GitHub ends the job.
			m.log.Info("Ghost runner still busy on GitHub; removing it later", "runner", a.name)
			return errTookJob
		case errors.Is(err, github.ErrBusy):
			// Its instance is gone; GitHub still counts the cancelled job.
			// The next reconcile's sweep de-registers the ghost.
			if a.killFirst {
				m.logRemoved(a.name, a.reason.String()+" (still registered: GitHub reports the job running)")
				return nil
			}
			return fmt.Errorf("cannot de-register runner %s: %w", a.name, err)
		case err != nil:
			return fmt.Errorf("cannot de-register runner %s: %w", a.name, err)
		}
	}
	if !a.killFirst {
		if err := deleteInstance(); err != nil {
			return err
		}
	}
	m.logRemoved(a.name, a.reason.String())
	return nil
}

// logRemoved writes the one line every removal logs.
func (m *Manager) logRemoved(name, reason string) {
	m.log.Info("Removed runner", "runner", name, "reason", reason)
}
