package hooks

import (
	"fmt"
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
