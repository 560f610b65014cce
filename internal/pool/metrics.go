package pool

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"charm.example/github-runner/internal/atomicfile"
	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/metrics"
	"charm.example/github-runner/internal/runners"
	"charm.example/github-runner/internal/schedule"
)

// This file turns what the pool's operations did into metrics, through
// Options.Metrics (nil: nothing is recorded). Everything comes from the
// operations' own results and the GitHub client's answers: recording asks
// LXD and GitHub nothing more.

// seenFile is where the pool keeps, between runs, the runners it saw
// last and whether each had come online, in the state folder: names and
// flags only.
const seenFile = "metrics-runners.json"

// seenRunner is one runner as the pool last saw it.
type seenRunner struct {
	Online bool `json:"online,omitempty"`
}

// githubObserver records each GitHub request and the rate limit after it.
func githubObserver(rec *metrics.Recorder) func(string, int, github.RateStatus) {
	if rec == nil {
		return nil
	}
	return func(endpoint string, status int, rate github.RateStatus) {
		rec.GitHubRequest(endpoint, status)
		if rate.Known {
			rec.RateLimit(rate.Remaining, rate.Limit, rate.Reset)
		}
	}
}

// metricsState is the runner state label of a runner state: ghosts count
// as dead (both are removed by the next reconcile).
func metricsState(s runners.RunnerState) metrics.RunnerState {
	switch s {
	case runners.StateStarting:
		return metrics.RunnerStarting
	case runners.StateIdle:
		return metrics.RunnerIdle
	case runners.StateBusy:
		return metrics.RunnerBusy
	}
	return metrics.RunnerDead
}

// removalKind is the kind label of a removal.
func removalKind(k runners.RemovalKind) metrics.RemovalKind {
	switch k {
	case runners.RemovalInstanceDown, runners.RemovalProcessGone:
		return metrics.RemovalDead
	case runners.RemovalDeregistered:
		// GitHub removes an ephemeral runner's registration after its job.
		return metrics.RemovalFinished
	case runners.RemovalBootstrapTimeout, runners.RemovalCannotStart:
		return metrics.RemovalStuck
	case runners.RemovalGhost:
		return metrics.RemovalOrphan
	case runners.RemovalSurplus:
		return metrics.RemovalExcess
	case runners.RemovalFlushedIdle, runners.RemovalFlushedBusy:
		return metrics.RemovalFlushed
	}
	return metrics.RemovalDead
}

// creationCause is the cause label of a failed creation.
func creationCause(err error) metrics.CreationCause {
	var ce *runners.CreateError
	if !errors.As(err, &ce) {
		return metrics.CauseOther
	}
	switch ce.Stage {
	case runners.StageRegister:
		return metrics.CauseGitHub
	case runners.StageLaunch:
		if errors.Is(err, lxd.ErrNotFound) {
			return metrics.CauseImage
		}
		return metrics.CauseLXD
	case runners.StageSetup, runners.StageStart:
		return metrics.CauseLXD
	}
	return metrics.CauseOther
}

// recordResult records what a reconcile or flush did: the creations, their
// failures and the removals.
func (p *Pool) recordResult(res runners.Result) {
	rec := p.opts.Metrics
	if rec == nil {
		return
	}
	for range res.Created {
		rec.CreationStarted()
	}
	for _, f := range res.Failures {
		if f.Creating {
			rec.CreationStarted()
			rec.CreationFailed(creationCause(f.Err))
		}
	}
	for _, r := range res.Removed {
		rec.RunnerRemoved(removalKind(r.Reason.Kind))
		switch r.Reason.Kind {
		case runners.RemovalBootstrapTimeout:
			rec.CreationFailed(metrics.CauseTimeout)
		case runners.RemovalCannotStart:
			rec.CreationFailed(metrics.CauseOther)
		}
	}
}

// recordRunners records the pool's gauges from rs (the runners as an
// operation left them), the runners that came online since the last look
// (their creation duration, from their install time), and the runners that
// went away by themselves (an ephemeral runner deletes its instance after
// its job): removed are the removals this operation made itself.
func (p *Pool) recordRunners(rs []runners.RunnerInfo, removed []runners.Removal) {
	rec := p.opts.Metrics
	if rec == nil {
		return
	}
	now := time.Now()
	counts := map[metrics.RunnerState]int{}
	for _, r := range rs {
		counts[metricsState(r.State)]++
	}
	pool := metrics.Pool{
		Runners:           counts,
		Wanted:            p.settings.VirtualMachines,
		RunnerVersion:     p.RunnerVersion(),
		ReconcileInterval: p.settings.ReconcileEvery(),
	}
	if p.opts.Schedules != nil {
		pool.ImageRebuildInterval = schedule.ImageBuildInterval
	}
	rec.SetPool(pool)

	prev := p.readSeen()
	gone := map[string]bool{}
	for _, r := range removed {
		gone[r.Name] = true
	}
	cur := make(map[string]seenRunner, len(rs))
	for _, r := range rs {
		if r.State == runners.StateGhost {
			continue // no instance: it cannot go away by itself
		}
		online := r.State == runners.StateIdle || r.State == runners.StateBusy
		was := prev[r.Name]
		if online && !was.Online && !r.InstalledAt.IsZero() {
			rec.CreationOnline(now.Sub(r.InstalledAt))
		}
		cur[r.Name] = seenRunner{Online: online || was.Online}
		delete(prev, r.Name)
	}
	// A runner gone without this operation removing it powered its
	// instance off itself, which the start script does only once the runner
	// application has ended: after its job (or a failed configuration).
	for name := range prev {
		if !gone[name] {
			rec.RunnerRemoved(metrics.RemovalFinished)
		}
	}
	p.writeSeen(cur)
}

func (p *Pool) seenPath() string { return filepath.Join(p.opts.StateDir, seenFile) }

func (p *Pool) readSeen() map[string]seenRunner {
	out := map[string]seenRunner{}
	b, err := os.ReadFile(p.seenPath())
	if err != nil {
		return out
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return map[string]seenRunner{}
	}
	return out
}

func (p *Pool) writeSeen(seen map[string]seenRunner) {
	b, err := json.Marshal(seen)
	if err == nil {
		err = atomicfile.Write(p.seenPath(), b, 0o600)
	}
	if err != nil {
		p.log.Warn("cannot keep the runners seen for metrics", "error", err)
	}
}
