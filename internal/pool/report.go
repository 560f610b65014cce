package pool

import (
	"fmt"
	"sort"
	"strings"

	"charm.example/github-runner/internal/runners"
)

// Counts are a unit's runners by state, as check-runners reports them.
type Counts struct {
	// Online runners are connected to GitHub: Idle plus Busy.
	Online, Idle, Busy int
	// Offline runners are not connected: Starting plus Unhealthy.
	Offline int
	// Starting runners are alive and within their bootstrap time.
	Starting int
	// Unhealthy runners are dead, or on GitHub without an instance; the
	// next reconcile removes them.
	Unhealthy int
}

// CountRunners counts rs by state.
func CountRunners(rs []runners.RunnerInfo) Counts {
	var c Counts
	for _, r := range rs {
		switch r.State {
		case runners.StateIdle:
			c.Idle++
		case runners.StateBusy:
			c.Busy++
		case runners.StateStarting:
			c.Starting++
		default:
			c.Unhealthy++
		}
	}
	c.Online = c.Idle + c.Busy
	c.Offline = c.Starting + c.Unhealthy
	return c
}

// Summary is the Active status message for wanted runners in state rs:
// `3/3 runners online`, `2/3 runners online (1 busy), 1 starting`.
func Summary(wanted int, rs []runners.RunnerInfo) string {
	c := CountRunners(rs)
	if wanted == 0 {
		if len(rs) == 0 {
			return "no runners (virtual-machines is 0)"
		}
		left := "runners"
		if len(rs) == 1 {
			left = "runner"
		}
		return fmt.Sprintf("virtual-machines is 0; %d %s left, %d busy", len(rs), left, c.Busy)
	}
	var b strings.Builder
	noun := "runners"
	if wanted == 1 {
		noun = "runner"
	}
	fmt.Fprintf(&b, "%d/%d %s online", c.Online, wanted, noun)
	if c.Busy > 0 {
		fmt.Fprintf(&b, " (%d busy)", c.Busy)
	}
	if c.Starting > 0 {
		fmt.Fprintf(&b, ", %d starting", c.Starting)
	}
	if c.Unhealthy > 0 {
		fmt.Fprintf(&b, ", %d unhealthy", c.Unhealthy)
	}
	if missing := wanted - c.Online - c.Starting; missing > 0 {
		fmt.Fprintf(&b, ", %d missing", missing)
	}
	return b.String()
}

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
