package hooks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"charm.example/github-runner/internal/runners"
)

// RunnerReport is check-runners' result: the counts, and the runners'
// names by state. Keys follow action-set's rules.
func RunnerReport(rs []runners.RunnerInfo) map[string]any {
	c := CountRunners(rs)
	out := map[string]any{
		"online":    c.Online,
		"offline":   c.Offline,
		"busy":      c.Busy,
		"idle":      c.Idle,
		"starting":  c.Starting,
		"unhealthy": c.Unhealthy,
		"total":     len(rs),
	}
	byState := map[string][]string{}
	var all []string
	for _, r := range rs {
		all = append(all, r.Name)
		key := string(r.State) + "-runners"
		if r.State == runners.StateDead || r.State == runners.StateGhost {
			key = "unhealthy-runners"
		}
		byState[key] = append(byState[key], r.Name)
	}
	if len(all) > 0 {
		out["runners"] = strings.Join(all, ",")
	}
	for k, names := range byState {
		out[k] = strings.Join(names, ",")
	}
	return out
}

// ResultReport is a reconcile's or flush's result for action-set: counts,
// the names created and removed (with the reason), and failures.
func ResultReport(res runners.Result) map[string]any {
	out := map[string]any{
		"before":  res.Before,
		"after":   res.After,
		"delta":   res.Delta,
		"created": len(res.Created),
		"removed": len(res.Removed),
		"busy":    res.Busy,
	}
	if len(res.Created) > 0 {
		created := append([]string(nil), res.Created...)
		sort.Strings(created)
		out["created-runners"] = strings.Join(created, ",")
	}
	if len(res.Removed) > 0 {
		var names []string
		for _, r := range res.Removed {
			names = append(names, fmt.Sprintf("%s (%s)", r.Name, r.Reason))
		}
		out["removed-runners"] = strings.Join(names, ",")
	}
	if len(res.Failures) > 0 {
		out["failures"] = len(res.Failures)
		var names []string
		for _, f := range res.Failures {
			names = append(names, f.Name)
		}
		sort.Strings(names)
		out["failed-runners"] = strings.Join(names, ",")
	}
	return out
}

// checkRunners reports the unit's runners.
func (c *Charm) checkRunners(ctx context.Context, ev Event) error {
	s, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, lookTimeout)
	defer cancel()
	rs, err := s.pool.Runners(lctx)
	if err != nil {
		return err
	}
	report := RunnerReport(rs)
	report["wanted"] = s.cfg.VirtualMachines
	if err := ev.Juju.ActionSet(ctx, report); err != nil {
		return err
	}
	return s.refreshStatus(ctx)
}

// reconcileRunners reconciles now, as the timer would, and reports the
// change.
func (c *Charm) reconcileRunners(ctx context.Context, ev Event) error {
	s, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	if err := ev.Juju.ActionLog(ctx, fmt.Sprintf("reconciling to %d runners", s.cfg.VirtualMachines)); err != nil {
		return err
	}
	res, err := s.converge(ctx, convergeOptions{reconcile: true})
	if res != nil {
		report := ResultReport(*res)
		report["wanted"] = res.Wanted
		if serr := ev.Juju.ActionSet(ctx, report); serr != nil {
			return serr
		}
	}
	return err
}

// flushRunners removes the idle runners (busy ones too with flush-busy),
// then reconciles to replace them.
func (c *Charm) flushRunners(ctx context.Context, ev Event) error {
	params, err := ev.Juju.ActionParams(ctx)
	if err != nil {
		return err
	}
	busy, _ := params["flush-busy"].(bool)
	s, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	mode, what := runners.FlushIdle, "the idle runners"
	if busy {
		mode, what = runners.FlushBusy, "all runners, busy ones too"
	}
	if err := s.progress(ctx, "flushing "+what); err != nil {
		return err
	}
	fctx, cancel := context.WithTimeout(ctx, flushTimeout)
	flushed, err := s.pool.Flush(fctx, mode)
	cancel()
	if err != nil {
		return err
	}
	out := map[string]any{"removed": len(flushed.Removed), "busy-left": flushed.Busy}
	if len(flushed.Removed) > 0 {
		var names []string
		for _, r := range flushed.Removed {
			names = append(names, r.Name)
		}
		out["removed-runners"] = strings.Join(names, ",")
	}
	if err := ev.Juju.ActionSet(ctx, out); err != nil {
		return err
	}
	if err := ev.Juju.ActionLog(ctx, fmt.Sprintf("removed %d runners; creating their replacements", len(flushed.Removed))); err != nil {
		return err
	}
	res, err := s.reconcile(ctx)
	if serr := ev.Juju.ActionSet(ctx, map[string]any{"reconcile": ResultReport(res)}); serr != nil {
		return serr
	}
	if err != nil {
		return err
	}
	return s.statusFrom(ctx, res.Runners)
}

// buildImage rebuilds the runner image now.
func (c *Charm) buildImage(ctx context.Context, ev Event) error {
	s, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	if err := s.build(ctx, "requested"); err != nil {
		return err
	}
	version, _ := s.pool.Manager.RunnerApp().Version()
	if err := ev.Juju.ActionSet(ctx, map[string]any{
		"image":          s.pool.Manager.Image().Alias(),
		"runner-version": version,
		"message":        "runner image rebuilt; new runners start from it",
	}); err != nil {
		return err
	}
	return s.refreshStatus(ctx)
}

// updateRunnerBin downloads the newest runner application if it changed,
// and then replaces the idle runners so they run it.
func (c *Charm) updateRunnerBin(ctx context.Context, ev Event) error {
	s, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	up, err := s.ensureBinary(ctx, true)
	if err != nil {
		return err
	}
	out := map[string]any{"version": up.Version, "updated": up.Changed}
	if up.Previous != "" {
		out["previous-version"] = up.Previous
	}
	if !up.Changed {
		out["message"] = fmt.Sprintf("runner application %s is the newest; nothing to do", up.Version)
		if err := ev.Juju.ActionSet(ctx, out); err != nil {
			return err
		}
		return s.refreshStatus(ctx)
	}
	if err := s.progress(ctx, fmt.Sprintf("runner application updated to %s: replacing the idle runners", up.Version)); err != nil {
		return err
	}
	fctx, cancel := context.WithTimeout(ctx, flushTimeout)
	flushed, err := s.pool.Flush(fctx, runners.FlushIdle)
	cancel()
	if err != nil {
		return err
	}
	res, rerr := s.reconcile(ctx)
	out["flushed"] = len(flushed.Removed)
	out["busy-left"] = flushed.Busy
	out["created"] = len(res.Created)
	out["message"] = fmt.Sprintf("runner application updated from %s to %s; replaced %d idle runners (%d busy ones finish their job first)",
		orNone(up.Previous), up.Version, len(flushed.Removed), flushed.Busy)
	if err := ev.Juju.ActionSet(ctx, out); err != nil {
		return err
	}
	if rerr != nil {
		return rerr
	}
	return s.statusFrom(ctx, res.Runners)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
