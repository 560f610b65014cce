package hooks

import (
	"context"
	"fmt"
	"strings"

	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/runners"
)

// checkRunners reports the unit's runners.
func (c *Charm) checkRunners(ctx context.Context, ev Event) error {
	ses, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	rs, err := ses.pool.Runners(ctx)
	if err != nil {
		return err
	}
	report := pool.RunnerReport(rs)
	report["wanted"] = ses.pool.Settings().VirtualMachines
	for k, v := range deadRunnerLogs(StateDirFor(ev.Juju.Env().CharmDir)) {
		report[k] = v
	}
	if err := ev.Juju.ActionSet(ctx, report); err != nil {
		return err
	}
	return ses.statusFrom(ctx, rs)
}

// reconcileRunners reconciles now, as the timer would, and reports the
// change.
func (c *Charm) reconcileRunners(ctx context.Context, ev Event) error {
	ses, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	if err := ev.Juju.ActionLog(ctx, fmt.Sprintf("reconciling to %d runners", ses.pool.Settings().VirtualMachines)); err != nil {
		return err
	}
	res, err := ses.converge(ctx, pool.ConvergeOptions{Reconcile: true})
	if res != nil {
		report := pool.ResultReport(*res)
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
	ses, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	mode, what := runners.FlushIdle, "the idle runners"
	if busy {
		mode, what = runners.FlushBusy, "all runners, busy ones too"
	}
	if err := ses.Progress(ctx, "flushing "+what); err != nil {
		return err
	}
	flushed, err := ses.pool.Flush(ctx, mode)
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
	res, err := ses.pool.Reconcile(ctx)
	if serr := ev.Juju.ActionSet(ctx, map[string]any{"reconcile": pool.ResultReport(res)}); serr != nil {
		return serr
	}
	if err != nil {
		return err
	}
	return ses.statusFrom(ctx, res.Runners)
}

// buildImage rebuilds the runner image now.
func (c *Charm) buildImage(ctx context.Context, ev Event) error {
	ses, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	if err := ses.pool.BuildImage(ctx, "requested"); err != nil {
		return err
	}
	if err := ev.Juju.ActionSet(ctx, map[string]any{
		"image":          ses.pool.ImageAlias(),
		"runner-version": ses.pool.RunnerVersion(),
		"message":        "runner image rebuilt; new runners start from it",
	}); err != nil {
		return err
	}
	return ses.refreshStatus(ctx)
}

// updateRunnerBin downloads the newest runner application if it changed,
// and then replaces the idle runners so they run it.
func (c *Charm) updateRunnerBin(ctx context.Context, ev Event) error {
	ses, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	up, err := ses.pool.UpdateRunnerApplication(ctx)
	if up.Flushed == nil && err != nil {
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
		return ses.refreshStatus(ctx)
	}
	out["flushed"] = len(up.Flushed.Removed)
	out["busy-left"] = up.Flushed.Busy
	out["created"] = len(up.Reconciled.Created)
	out["message"] = fmt.Sprintf("runner application updated from %s to %s; replaced %d idle runners (%d busy ones finish their job first)",
		orNone(up.Previous), up.Version, len(up.Flushed.Removed), up.Flushed.Busy)
	if serr := ev.Juju.ActionSet(ctx, out); serr != nil {
		return serr
	}
	if err != nil {
		return err
	}
	return ses.statusFrom(ctx, up.Reconciled.Runners)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
