package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"charm.example/github-runner/internal/atomicfile"
)

// LockFile is the lock writers of the state file hold, in the same folder.
const LockFile = "metrics.lock"

// maxEndpointLen bounds an endpoint label value.
const maxEndpointLen = 96

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	// Dir is the unit's state folder (absolute), where the state file lives.
	Dir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Recorder is the hook side: it collects what this process did and, on
// Flush, folds it into the state file. Its recording methods do no I/O and
// are safe for concurrent use. A nil *Recorder records nothing, so that
// code which may run without metrics needs no check.
type Recorder struct {
	dir string
	now func() time.Time

	mu    sync.Mutex
	delta State
}

// NewRecorder returns a Recorder for the state folder opts.Dir.
func NewRecorder(opts RecorderOptions) (*Recorder, error) {
	if opts.Dir == "" || !filepath.IsAbs(opts.Dir) {
		return nil, fmt.Errorf("metrics state folder %q is not an absolute path", opts.Dir)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Recorder{dir: filepath.Clean(opts.Dir), now: now, delta: emptyState()}, nil
}

func emptyState() State {
	return State{
		Version:    stateVersion,
		Counters:   map[string]map[string]float64{},
		Histograms: map[string]map[string]*Histogram{},
		Gauges:     map[string]map[string]float64{},
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func outcome(err error) Outcome {
	if err != nil {
		return OutcomeError
	}
	return OutcomeSuccess
}

func (r *Recorder) add(name string, v float64, labels ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.delta.Counters[name]
	if m == nil {
		m = map[string]float64{}
		r.delta.Counters[name] = m
	}
	m[seriesKey(labels...)] += v
}

func (r *Recorder) observe(name string, d time.Duration) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.delta.Histograms[name]
	if m == nil {
		m = map[string]*Histogram{}
		r.delta.Histograms[name] = m
	}
	h := m[""]
	if h == nil {
		h = &Histogram{}
		m[""] = h
	}
	h.observe(histogramBuckets(name), max(d.Seconds(), 0))
}

// set replaces all of a gauge metric's series.
func (r *Recorder) set(name string, series map[string]float64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delta.Gauges[name] = series
}

// ReconcileDone records one reconcile: its duration and outcome (err nil is
// a success, which also moves the last-success time to now).
func (r *Recorder) ReconcileDone(d time.Duration, err error) {
	r.observe(ReconcileDuration, d)
	r.add(Reconciles, 1, string(outcome(err)))
	if err == nil && r != nil {
		r.set(ReconcileLastSuccess, map[string]float64{"": unixSeconds(r.now())})
	}
}

// Pool is the runner pool as a reconcile left it.
type Pool struct {
	// Runners counts runners by state; states left out are 0.
	Runners map[RunnerState]int
	// Wanted is how many runners the configuration asks for.
	Wanted int
	// RunnerVersion is the runner application version new runners get;
	// empty leaves the last one recorded.
	RunnerVersion string
	// ImageBuilt is when the image in use was built; zero leaves the last
	// one recorded.
	ImageBuilt time.Time
	// ReconcileInterval and ImageRebuildInterval are the configured
	// periods; zero leaves the last ones recorded.
	ReconcileInterval, ImageRebuildInterval time.Duration
}

// SetPool records the pool's gauges.
func (r *Recorder) SetPool(p Pool) {
	runners := map[string]float64{}
	for _, st := range RunnerStates() {
		runners[seriesKey(string(st))] = float64(p.Runners[st])
	}
	r.set(Runners, runners)
	r.set(RunnersWanted, map[string]float64{"": float64(p.Wanted)})
	if p.RunnerVersion != "" {
		r.set(RunnerApplicationInfo, map[string]float64{seriesKey(p.RunnerVersion): 1})
	}
	if !p.ImageBuilt.IsZero() {
		r.set(ImageBuildTimestamp, map[string]float64{"": unixSeconds(p.ImageBuilt)})
	}
	if p.ReconcileInterval > 0 {
		r.set(ReconcileInterval, map[string]float64{"": p.ReconcileInterval.Seconds()})
	}
	if p.ImageRebuildInterval > 0 {
		r.set(ImageRebuildInterval, map[string]float64{"": p.ImageRebuildInterval.Seconds()})
	}
}

// CreationStarted records a runner creation begun.
func (r *Recorder) CreationStarted() { r.add(Creations, 1) }

// CreationOnline records a runner online in GitHub d after its creation began.
func (r *Recorder) CreationOnline(d time.Duration) { r.observe(CreationDuration, d) }

// CreationFailed records a creation that failed, and why.
func (r *Recorder) CreationFailed(cause CreationCause) { r.add(CreationFailures, 1, string(cause)) }

// RunnerRemoved records a runner removed, and why.
func (r *Recorder) RunnerRemoved(kind RemovalKind) { r.add(Removals, 1, string(kind)) }

// JobFinished records a job that waited queued for a runner and then ran for ran.
func (r *Recorder) JobFinished(queued, ran time.Duration) {
	r.observe(JobQueueDuration, queued)
	r.observe(JobDuration, ran)
}

// GitHubRequest records one GitHub API request. endpoint is the route
// template, never a URL with ids or a query (`POST
// /orgs/{org}/actions/runners/generate-jitconfig`); status is the HTTP
// status, 0 for a request that got no answer.
func (r *Recorder) GitHubRequest(endpoint string, status int) {
	if len(endpoint) > maxEndpointLen {
		endpoint = endpoint[:maxEndpointLen]
	}
	st := "error"
	if status > 0 {
		st = strconv.Itoa(status)
	}
	r.add(GitHubRequests, 1, endpoint, st)
}

// RateLimit records GitHub's rate limit state from a response.
func (r *Recorder) RateLimit(remaining, quota int, reset time.Time) {
	r.set(RateLimitRemaining, map[string]float64{"": float64(remaining)})
	r.set(RateLimitQuota, map[string]float64{"": float64(quota)})
	r.set(RateLimitReset, map[string]float64{"": unixSeconds(reset)})
}

// ImageBuilt records one image build of duration d; a success (err nil)
// also makes builtAt the image in use.
func (r *Recorder) ImageBuilt(d time.Duration, err error, builtAt time.Time) {
	r.observe(ImageBuildDuration, d)
	r.add(ImageBuilds, 1, string(outcome(err)))
	if err == nil {
		r.set(ImageBuildTimestamp, map[string]float64{"": unixSeconds(builtAt)})
	}
}

// Flush folds what was recorded since the last Flush into the state file,
// under the writers' lock, waiting for it as long as ctx allows. On error
// the records are kept for the next Flush.
func (r *Recorder) Flush(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	delta := r.delta
	r.delta = emptyState()
	r.mu.Unlock()
	delta.Updated = unixSeconds(r.now())
	if err := r.fold(ctx, delta); err != nil {
		r.mu.Lock()
		r.delta = Fold(delta, r.delta)
		r.mu.Unlock()
		return err
	}
	return nil
}

func (r *Recorder) fold(ctx context.Context, delta State) error {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return fmt.Errorf("cannot record metrics: %w", err)
	}
	unlock, err := lock(ctx, filepath.Join(r.dir, LockFile))
	if err != nil {
		return fmt.Errorf("cannot record metrics: %w", err)
	}
	defer unlock()
	base, err := ReadState(r.dir)
	if errors.Is(err, ErrBadState) {
		base = State{Version: stateVersion} // start afresh rather than never record again
	} else if err != nil {
		return fmt.Errorf("cannot record metrics: %w", err)
	}
	data, err := json.Marshal(Fold(base, delta))
	if err != nil {
		return fmt.Errorf("cannot record metrics: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(r.dir, StateFile), data, 0o600); err != nil {
		return fmt.Errorf("cannot record metrics: %w", err)
	}
	return nil
}

// lock takes an exclusive flock on path, polling while another writer
// holds it, until ctx is done.
func lock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("cannot lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s: %w", path, ctx.Err())
		case <-tick.C:
		}
	}
}
