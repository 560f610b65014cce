package githubtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// JobID identifies a queued job.
type JobID int64

// JobState is a job's place in its lifecycle: queued -> in_progress ->
// completed, as in GitHub's workflow-job object.
type JobState string

// Job states.
const (
	JobQueued     JobState = "queued"
	JobInProgress JobState = "in_progress"
	JobCompleted  JobState = "completed"
)

func (s JobState) rank() int {
	switch s {
	case JobQueued:
		return 0
	case JobInProgress:
		return 1
	case JobCompleted:
		return 2
	}
	return -1
}

// Job conclusions.
const (
	ConclusionSuccess = "success"
	ConclusionFailure = "failure"
)

// Job is a snapshot of a job.
type Job struct {
	ID       JobID
	Labels   []string
	Duration time.Duration
	// Path restricts the job to runners of a scope; "" means any.
	Path  string
	State JobState
	// Conclusion is set once completed: ConclusionSuccess, or
	// ConclusionFailure when the runner's listener went away mid-job.
	Conclusion string
	// Failure is why the runner failed the job (a step that could not use
	// its environment), as it reported; "" otherwise.
	Failure    string
	RunnerID   int64
	RunnerName string
	QueuedAt   time.Time
	StartedAt  time.Time
	// CompletedAt is zero until completed.
	CompletedAt time.Time
}

type job struct {
	Job
}

// QueueJob queues a job for any runner, of any scope, carrying all of labels
// (ignoring case). An idle online runner takes it - a listener-backed one on
// its next poll, a simulated one at once - and is busy for duration; then
// the job completes, and an ephemeral runner is de-registered.
func (s *Server) QueueJob(labels []string, duration time.Duration) JobID {
	return s.QueueJobFor("", labels, duration)
}

// QueueJobFor is QueueJob for the runners of one scope: for "org" the
// organization's runners and those of its enterprise; for "owner/repo" the
// repository's runners and those of the organization "owner" and its
// enterprise; for "enterprises/<slug>" the enterprise's runners.
func (s *Server) QueueJobFor(path string, labels []string, duration time.Duration) JobID {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextJobID
	s.nextJobID++
	s.jobs[id] = &job{Job{
		ID:       id,
		Labels:   slices.Clone(labels),
		Duration: duration,
		Path:     path,
		State:    JobQueued,
		QueuedAt: s.now(),
	}}
	s.jobOrder = append(s.jobOrder, id)
	s.sweepLocked(s.now())
	s.notifyLocked()
	return id
}

// Job returns a job's current state.
func (s *Server) Job(id JobID) (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.now())
	j, ok := s.jobs[id]
	if !ok {
		return Job{}, false
	}
	return j.snapshot(), true
}

// Jobs returns all jobs in the order they were queued.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.now())
	out := make([]Job, 0, len(s.jobOrder))
	for _, id := range s.jobOrder {
		out = append(out, s.jobs[id].snapshot())
	}
	return out
}

func (j *job) snapshot() Job {
	out := j.Job
	out.Labels = slices.Clone(j.Labels)
	return out
}

// eligible reports whether runner r may take job j: a job of a repository
// goes to the repository's runners, its organization's and its
// organization's enterprise's; a job of an organization to the
// organization's and its enterprise's.
func (j *job) eligible(r *runner) bool {
	if j.Path != "" && !strings.EqualFold(r.scope.path, j.Path) {
		if strings.HasPrefix(strings.ToLower(j.Path), enterprisePrefix) {
			return false
		}
		owner, _, _ := strings.Cut(j.Path, "/")
		switch r.scope.kind {
		case kindOrg:
			if !strings.EqualFold(r.scope.path, owner) {
				return false
			}
		case kindEnterprise:
			if !slices.ContainsFunc(r.scope.orgs, func(o *scope) bool { return strings.EqualFold(o.path, owner) }) {
				return false
			}
		default:
			return false
		}
	}
	return r.hasLabels(j.Labels)
}

// startJobLocked hands job j to runner r.
func (s *Server) startJobLocked(j *job, r *runner, now time.Time) {
	j.State = JobInProgress
	j.RunnerID = r.id
	j.RunnerName = r.name
	j.StartedAt = now
	r.busy = true
	r.job = j.ID
}

// takeJobLocked gives runner r the oldest queued job it may take, or nil.
func (s *Server) takeJobLocked(r *runner, now time.Time) *job {
	if r.busy {
		return nil
	}
	for _, id := range s.jobOrder {
		j := s.jobs[id]
		if j.State == JobQueued && j.eligible(r) {
			s.startJobLocked(j, r, now)
			return j
		}
	}
	return nil
}

// finishJobLocked completes runner r's job with a conclusion; an ephemeral
// runner is then de-registered. It reports whether the runner was removed.
func (s *Server) finishJobLocked(r *runner, conclusion string, now time.Time) bool {
	if j, ok := s.jobs[r.job]; ok && j.State != JobCompleted {
		j.State = JobCompleted
		j.Conclusion = conclusion
		j.CompletedAt = now
	}
	r.job = 0
	r.busy = false
	if r.ephemeral {
		s.deleteRunnerLocked(r)
		return true
	}
	return false
}

// sweepLocked brings time-driven state up to date: listeners that went
// silent go offline (failing their job), simulated runners finish jobs whose
// time is up, and idle online simulated runners take queued jobs.
func (s *Server) sweepLocked(now time.Time) {
	changed := false
	ids := make([]int64, 0, len(s.runners))
	for id := range s.runners {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r := s.runners[id]
		switch {
		case !r.simulated && r.session != nil && !r.online(now, s.opts.OfflineAfter):
			r.session = nil
			if r.job != 0 {
				j := s.jobs[r.job]
				j.State, j.Conclusion, j.CompletedAt = JobCompleted, ConclusionFailure, now
				r.job, r.busy = 0, false
			}
			changed = true
		case r.simulated && r.job != 0:
			if j := s.jobs[r.job]; !now.Before(j.StartedAt.Add(j.Duration)) {
				s.finishJobLocked(r, ConclusionSuccess, now)
				changed = true
			}
		}
	}
	for _, id := range ids {
		r, ok := s.runners[id]
		if !ok || !r.simulated || r.busy || !r.online(now, s.opts.OfflineAfter) {
			continue
		}
		if s.takeJobLocked(r, now) != nil {
			changed = true
		}
	}
	if changed {
		s.notifyLocked()
	}
}

// pollInterval is how often waiters re-check state that changes with the
// clock alone.
const pollInterval = 20 * time.Millisecond

// WaitFor polls cond until it holds or ctx ends; it re-checks on every change
// in the simulator and at least every 20 ms. cond may call the Server's
// methods.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		s.mu.Lock()
		s.sweepLocked(s.now())
		changed := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-ticker.C:
		}
	}
}

// WaitForJob waits until a job has reached state (or a later one) and
// returns it.
func (s *Server) WaitForJob(ctx context.Context, id JobID, state JobState) (Job, error) {
	var last Job
	err := s.WaitFor(ctx, func() bool {
		j, ok := s.Job(id)
		last = j
		return ok && j.State.rank() >= state.rank()
	})
	if err != nil {
		return last, fmt.Errorf("job %d did not reach %s (last %q): %w", id, state, last.State, err)
	}
	return last, nil
}

// WaitForRunner waits until cond holds for the runner named name in a scope;
// exists is false while (or once) there is no such runner, so a test can
// wait for a de-registration too.
func (s *Server) WaitForRunner(ctx context.Context, path, name string, cond func(r Runner, exists bool) bool) (Runner, error) {
	var last Runner
	var lastOK bool
	err := s.WaitFor(ctx, func() bool {
		last, lastOK = s.RunnerByName(path, name)
		return cond(last, lastOK)
	})
	if err != nil {
		return last, fmt.Errorf("runner %q of %s (exists %t, status %q, busy %t): condition not met: %w",
			name, path, lastOK, last.Status, last.Busy, err)
	}
	return last, nil
}
