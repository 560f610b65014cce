package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/runners"
	"charm.example/github-runner/internal/schedule"
)

// convergeOptions say what converge does beyond making the unit match its
// configuration.
type convergeOptions struct {
	// reconcile brings the runners to virtual-machines at the end.
	reconcile bool
	// flushIdle replaces the idle runners, for this reason.
	flushIdle string
	// keepImage never rebuilds an existing image, even if its settings
	// look changed.
	keepImage bool
}

// converge brings the unit to its configuration, level-based, so that
// running it twice changes nothing: GitHub credentials (flushing the
// runners of old ones), the runner application, the runner image, the
// replacement of idle runners whose labels or resources changed, the
// periodic jobs, and then, if asked, the runners themselves. It ends with
// the status summing up the runners and returns the reconcile's result.
func (s *session) converge(ctx context.Context, o convergeOptions) (*runners.Result, error) {
	if err := s.applyCredentials(ctx); err != nil {
		return nil, err
	}
	if _, err := s.ensureBinary(ctx, false); err != nil {
		return nil, err
	}

	want := applied{
		Registration: s.cfg.registrationSpec(),
		RunnerSpec:   s.cfg.runnerSpec(),
		ImageSpec:    s.cfg.imageSpec(),
		TimerDir:     s.cfg.TimerDirectory,
		CronDir:      s.cfg.CronDirectory,
	}
	old := s.mem.applied
	var reasons []string
	if o.flushIdle != "" {
		reasons = append(reasons, o.flushIdle)
	}
	if old != nil && old.Registration != want.Registration {
		reasons = append(reasons, "labels or group changed")
	}
	if old != nil && old.RunnerSpec != want.RunnerSpec {
		reasons = append(reasons, "runner resources changed")
	}

	ictx, cancel := context.WithTimeout(ctx, lookTimeout)
	hasImage, err := s.pool.HasImage(ictx)
	cancel()
	if err != nil {
		return nil, err
	}
	switch {
	case !hasImage:
		if err := s.build(ctx, "no runner image yet"); err != nil {
			return nil, err
		}
	case o.keepImage:
		// The image stays; its settings are taken as those of now.
	case old != nil && old.ImageSpec != want.ImageSpec:
		if err := s.build(ctx, "image settings changed"); err != nil {
			return nil, err
		}
		reasons = append(reasons, "runner image rebuilt")
	}

	if len(reasons) > 0 {
		if err := s.progress(ctx, "replacing the idle runners: "+strings.Join(reasons, ", ")); err != nil {
			return nil, err
		}
		fctx, cancel := context.WithTimeout(ctx, flushTimeout)
		res, err := s.pool.Flush(fctx, runners.FlushIdle)
		cancel()
		if err != nil {
			return nil, err
		}
		s.ev.Log.Info("idle runners replaced", "removed", len(res.Removed), "busy-left", res.Busy, "reasons", strings.Join(reasons, ", "))
	}

	if err := s.ensureSchedules(ctx, old); err != nil {
		return nil, err
	}
	if err := saveApplied(ctx, s.ev.Juju, want); err != nil {
		return nil, err
	}
	s.mem.applied = &want

	if !o.reconcile {
		return nil, s.ev.Juju.SetStatus(ctx, juju.Maintenance("runner application, image and timer ready; the runners start next"))
	}
	res, err := s.reconcile(ctx)
	if err != nil {
		// The status still sums up what there is; the error makes the
		// hook retry.
		if serr := s.refreshStatus(ctx); serr != nil {
			s.ev.Log.Warn("cannot refresh the status", "err", serr)
		}
		return &res, err
	}
	// The reconcile just looked at every runner: no need to ask again.
	return &res, s.statusFrom(ctx, res.Runners)
}

// reconcile brings the runners to virtual-machines, logging what changed.
func (s *session) reconcile(ctx context.Context) (runners.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	res, err := s.pool.Reconcile(ctx)
	if len(res.Created) > 0 || len(res.Removed) > 0 || len(res.Failures) > 0 {
		s.ev.Log.Info("reconciled", "wanted", res.Wanted, "before", res.Before, "after", res.After,
			"created", len(res.Created), "removed", len(res.Removed), "failures", len(res.Failures))
	}
	return res, err
}

// applyCredentials handles a change of path, token (or the secret's
// content) or github-api-url. The new credentials must work first; then
// the runners registered with the old ones (kept in the charm state) are
// flushed with those, busy ones too, before the new ones are remembered.
// Old credentials that GitHub no longer accepts cannot de-register
// anything: the unit's instances are then removed from LXD alone.
func (s *session) applyCredentials(ctx context.Context) error {
	cur := credentialsOf(s.cfg)
	if s.mem.creds == nil {
		if err := saveCredentials(ctx, s.ev.Juju, cur); err != nil {
			return err
		}
		s.mem.creds = &cur
		return nil
	}
	old := *s.mem.creds
	if old == cur {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, lookTimeout)
	_, err := s.pool.GitHub.ListRunners(lctx, s.pool.Manager.Owner().Prefix())
	cancel()
	if err != nil {
		// Nothing is touched until the new settings work.
		return s.pool.scoped(err)
	}
	if err := s.progress(ctx, "GitHub settings changed: removing the runners registered with the old ones"); err != nil {
		return err
	}
	oldCfg := s.cfg
	oldCfg.Path, oldCfg.Token, oldCfg.GitHubAPIURL = old.Path, old.Token, old.APIURL
	oldPool, err := NewPool(oldCfg, s.c.poolOptions(s.ev, oldCfg))
	if err != nil {
		return err
	}
	fctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	res, err := oldPool.Flush(fctx, runners.FlushBusy)
	switch v := Classify(err); {
	case err == nil:
		s.ev.Log.Info("runners of the old GitHub settings flushed", "removed", len(res.Removed))
	case v.Kind == Block:
		s.ev.Log.Warn("the old GitHub settings no longer work; removing their runners from LXD only", "reason", v.Message)
		removed, err := oldPool.RemoveInstances(fctx)
		if err != nil {
			return err
		}
		s.ev.Log.Info("runners of the old GitHub settings removed from LXD", "removed", len(removed))
	default:
		return err
	}
	if err := saveCredentials(ctx, s.ev.Juju, cur); err != nil {
		return err
	}
	s.mem.creds = &cur
	return nil
}

// ensureBinary puts the runner application in place (with newest, the
// newest one GitHub offers) and shows its version as the workload version.
func (s *session) ensureBinary(ctx context.Context, newest bool) (BinaryUpdate, error) {
	has := s.pool.Manager.RunnerApp().Has()
	if has && !newest {
		return BinaryUpdate{Version: currentVersion(s.pool)}, nil
	}
	msg := "downloading the runner application"
	if has {
		msg = "checking for a newer runner application"
	}
	if err := s.progress(ctx, msg); err != nil {
		return BinaryUpdate{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, binaryTimeout)
	defer cancel()
	up, err := s.pool.EnsureRunnerBinary(ctx, newest)
	if err != nil {
		return up, err
	}
	if up.Changed {
		s.ev.Log.Info("runner application in place", "version", up.Version, "previous", up.Previous)
		if err := s.ev.Juju.SetApplicationVersion(ctx, up.Version); err != nil {
			return up, err
		}
	}
	return up, nil
}

func currentVersion(p *Pool) string {
	v, _ := p.Manager.RunnerApp().Version()
	return v
}

// build builds the runner image, saying so in the status.
func (s *session) build(ctx context.Context, reason string) error {
	src := s.cfg.BaseImageSource()
	from := src.Alias
	if src.Server != "" {
		from = fmt.Sprintf("%s (%s)", s.cfg.BaseImage, src.Alias)
	}
	if err := s.progress(ctx, fmt.Sprintf("building the runner image from %s (%s)", from, reason)); err != nil {
		return err
	}
	if _, err := s.ensureBinary(ctx, false); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, imageTimeout)
	defer cancel()
	if err := s.pool.BuildImage(ctx); err != nil {
		return err
	}
	s.ev.Log.Info("runner image built", "alias", s.pool.Manager.Image().Alias(), "reason", reason)
	return nil
}

// ensureSchedules installs the reconcile timer (rewritten when the interval
// changed) and the image rebuild cron entry, removing those written under
// folders the configuration no longer names.
func (s *session) ensureSchedules(ctx context.Context, old *applied) error {
	unit := s.ev.Juju.Env().UnitName
	if old != nil && (old.TimerDir != s.cfg.TimerDirectory || old.CronDir != s.cfg.CronDirectory) && old.CronDir != "" {
		prev := s.cfg
		prev.TimerDirectory, prev.CronDirectory = old.TimerDir, old.CronDir
		if err := s.c.removeSchedules(ctx, s.ev, prev); err != nil {
			return err
		}
	}
	job := TimerJob(s.cfg, unit, s.c.deps.TimerBackend)
	changed, err := job.Install(ctx)
	if err != nil {
		return fmt.Errorf("cannot install the reconcile timer: %w", err)
	}
	if changed {
		s.ev.Log.Info("reconcile timer installed", "job", job.Name, "every", job.Interval.String(), "backend", string(job.Backend))
	}
	if _, err := schedule.ScheduleRunnerImageBuild(ctx, imageBuildJob(s.cfg, unit), s.pool.Manager.Owner().Prefix()); err != nil {
		return fmt.Errorf("cannot schedule the runner image rebuilds: %w", err)
	}
	return s.ensureWatcher(ctx)
}

// removeSchedules removes the reconcile timer and the image rebuild cron
// entry written under cfg's folders. Missing ones are fine.
func (c *Charm) removeSchedules(ctx context.Context, ev Event, cfg Config) error {
	unit := ev.Juju.Env().UnitName
	var errs []error
	if err := c.removeWatcher(ctx, ev, cfg); err != nil {
		errs = append(errs, err)
	}
	job := TimerJob(cfg, unit, c.deps.TimerBackend)
	if anyExists(job.Paths()) {
		if err := job.Remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cannot remove the reconcile timer: %w", err))
		}
	}
	owner, err := runners.NewOwner(ev.Juju.Env().AppName(), unit)
	if err != nil {
		errs = append(errs, err)
	} else if err := schedule.UnscheduleRunnerImageBuild(ctx, cfg.CronDirectory, owner.Prefix()); err != nil {
		errs = append(errs, fmt.Errorf("cannot remove the image rebuild cron entry: %w", err))
	}
	return errors.Join(errs...)
}

func anyExists(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return false
}

// teardown runs for stop and remove: it disables the periodic jobs,
// removes every runner of the unit (busy ones too), de-registering them
// from GitHub with the credentials they were registered with, and removes
// what is left of the unit's instances; with all, also the runner image,
// the state folder and the charm state. It works from what the unit
// remembers even when the configuration is now invalid.
func (c *Charm) teardown(ctx context.Context, ev Event, all bool) error {
	if err := ev.Juju.SetStatus(ctx, juju.Maintenance("removing the runners")); err != nil {
		return err
	}
	cfg, cerr := LoadConfig(ctx, ev.Juju)
	var cfgErr *ConfigError
	if cerr != nil && !errors.As(cerr, &cfgErr) {
		return cerr
	}
	mem, err := loadRemembered(ctx, ev.Juju)
	if err != nil {
		return err
	}
	if mem.creds == nil && mem.applied == nil {
		ev.Log.Info("nothing was set up; nothing to tear down")
		return c.finishTeardown(ctx, ev, all)
	}
	// Work with what was applied: the folders the jobs were written to and
	// the credentials the runners were registered with.
	if mem.applied != nil {
		cfg.TimerDirectory, cfg.CronDirectory = mem.applied.TimerDir, mem.applied.CronDir
	}
	if mem.creds != nil {
		cfg.Path, cfg.Token, cfg.GitHubAPIURL = mem.creds.Path, mem.creds.Token, mem.creds.APIURL
	}
	cfg.Labels = "" // not needed to remove runners, and maybe invalid now
	if hasProblem(cerr, "lxd-socket") {
		cfg.LXDSocket = ""
	}
	if err := c.removeSchedules(ctx, ev, cfg); err != nil {
		var cfgErr *ConfigError
		var blocked *BlockedError
		if !errors.As(err, &cfgErr) && !errors.As(err, &blocked) {
			return err
		}
	}

	pool, err := NewPool(cfg, c.poolOptions(ev, cfg))
	if err != nil {
		if v := Classify(err); v.Kind == Block {
			ev.Log.Warn("no LXD to remove runners from", "reason", v.Message)
			return c.finishTeardown(ctx, ev, all)
		}
		return err
	}
	fctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	res, err := pool.Flush(fctx, runners.FlushBusy)
	switch v := Classify(err); {
	case err == nil:
		ev.Log.Info("runners removed", "removed", len(res.Removed))
	case v.Kind == Block:
		ev.Log.Warn("GitHub refuses the unit's credentials; removing the runners from LXD only", "reason", v.Message)
	default:
		return err
	}
	// Image builders, and runners GitHub could not be asked about.
	if removed, err := pool.RemoveInstances(fctx); err != nil {
		return err
	} else if len(removed) > 0 {
		ev.Log.Info("instances removed from LXD", "removed", len(removed))
	}
	if all {
		if err := pool.DeleteImage(fctx); err != nil {
			return err
		}
	}
	return c.finishTeardown(ctx, ev, all)
}

// finishTeardown, for remove, deletes the state folder and the charm state.
func (c *Charm) finishTeardown(ctx context.Context, ev Event, all bool) error {
	if !all {
		return ev.Juju.SetStatus(ctx, juju.Maintenance("runners removed"))
	}
	if dir := StateDirFor(ev.Juju.Env().CharmDir); ev.Juju.Env().CharmDir != "" {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("cannot remove the runner state folder: %w", err)
		}
	}
	return forgetState(ctx, ev.Juju)
}

// stop removes the unit's runners and periodic jobs.
func (c *Charm) stop(ctx context.Context, ev Event) error { return c.teardown(ctx, ev, false) }

// remove removes what stop does, and the runner image and the unit's
// state.
func (c *Charm) remove(ctx context.Context, ev Event) error { return c.teardown(ctx, ev, true) }
