package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/runners"
)

// restTemplates are the organisation REST endpoints the manager calls, as
// the simulator names them; faults go on these and never on the stand-in
// runners' own traffic.
var restTemplates = []string{
	"/orgs/{org}/actions/runners",
	"/orgs/{org}/actions/runners/{runner_id}",
	"/orgs/{org}/actions/runners/generate-jitconfig",
	"/orgs/{org}/actions/runner-groups",
}

// clientTimeout is the GitHub client's per-request timeout in this test
// (the charm's is a minute; a second keeps the trial short).
const clientTimeout = time.Second

// githubFault is one kind of GitHub misbehaviour, held for a period.
type githubFault struct {
	name string
	// start injects the fault and returns what lifts it; lift returns when
	// the client may send again (after a rate limit's reset or
	// retry-after), zero for at once.
	start func(r *rig.Rig) (lift func() (clear time.Time))
	// wants are the runner counts asked for while the fault holds.
	wants []int
	// why checks that a reconcile's error says why it failed; every
	// reconcile during the fault must fail this way or succeed.
	why func(err error) error
	// mustFail: at least one reconcile during the fault must fail.
	mustFail bool
}

func injectAll(r *rig.Rig, f githubtest.Fault) (lift func() time.Time) {
	var lifts []func()
	for _, tpl := range restTemplates {
		f.Path = tpl
		lifts = append(lifts, r.Sim.InjectFault(f))
	}
	return func() time.Time {
		for _, l := range lifts {
			l()
		}
		return time.Time{}
	}
}

func wantMessage(err error, sentinel error, words ...string) error {
	if !errors.Is(err, sentinel) {
		return fmt.Errorf("want an error matching %q, got %v", sentinel, err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			return fmt.Errorf("error %q does not say %q", err, w)
		}
	}
	return nil
}

var githubFaults = []githubFault{
	{
		name: "5xx on 20% of calls",
		start: func(r *rig.Rig) func() time.Time {
			return injectAll(r, githubtest.Fault{Status: http.StatusBadGateway, Rate: 0.2})
		},
		wants: []int{5, 2, 4, 3, 5, 3},
		why:   func(err error) error { return wantMessage(err, github.ErrServer, "502") },
	},
	{
		name: "answers slower than the client's timeout",
		start: func(r *rig.Rig) func() time.Time {
			return injectAll(r, githubtest.Fault{Latency: 3 * clientTimeout})
		},
		wants:    []int{4, 2},
		mustFail: true,
		why: func(err error) error {
			if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "Timeout exceeded") {
				return fmt.Errorf("want a timeout, got %v", err)
			}
			return nil
		},
	},
	{
		name: "primary rate limit spent",
		start: func(r *rig.Rig) func() time.Time {
			reset := time.Now().Add(3 * time.Second)
			r.Sim.SetRateRemaining(r.Token(), 0)
			r.Sim.SetRateReset(r.Token(), reset)
			// The budget refills at the reset by itself; the client holds
			// off until then, plus a second against clock skew (and the
			// header's reset is in whole seconds).
			return func() time.Time { return reset.Add(2 * time.Second) }
		},
		wants:    []int{5, 1},
		mustFail: true,
		why: func(err error) error {
			return wantMessage(err, github.ErrRateLimited, "primary rate limit exceeded", "retry after")
		},
	},
	{
		name: "secondary rate limit",
		start: func(r *rig.Rig) func() time.Time {
			lift := injectAll(r, githubtest.Fault{SecondaryLimit: true, RetryAfter: 2 * time.Second})
			// The client honours the last refusal's retry-after.
			return func() time.Time { lift(); return time.Now().Add(2500 * time.Millisecond) }
		},
		wants:    []int{5, 1},
		mustFail: true,
		why: func(err error) error {
			return wantMessage(err, github.ErrRateLimited, "secondary rate limit exceeded")
		},
	},
}

// TestGitHubFaults holds each fault for a few reconciles with changing
// wants while one runner runs a long job, then lifts it: the busy runner is
// never removed, every failure says why, and the unit converges after at
// most two reconciles once the fault is gone.
func TestGitHubFaults(t *testing.T) {
	t.Parallel()
	r := newRig(t, rig.Options{Name: "chaos-github"})
	u := unit(t, r, "ghfault")
	ctx := deadline(t, 4*time.Minute)
	m, err := r.Manager(u, func(c *runners.Config) {
		c.Labels = []string{"chaos-github"}
		gh, err := r.GitHub(func(g *github.Config) { g.HTTPClient = &http.Client{Timeout: clientTimeout} })
		if err != nil {
			t.Fatal(err)
		}
		c.GitHub = gh
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reconcile(ctx, 3, rig.Resources); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitOnline(ctx, u, 3); err != nil {
		t.Fatal(err)
	}
	// A job longer than the whole test keeps one runner busy throughout.
	jobID := r.Sim.QueueJob([]string{"chaos-github"}, time.Hour)
	job, err := r.Sim.WaitForJob(ctx, jobID, githubtest.JobInProgress)
	if err != nil {
		t.Fatal(err)
	}
	busy := job.RunnerName

	for _, f := range githubFaults {
		summary, err := githubTrial(ctx, r, u, m, f, busy, jobID)
		record("github: "+f.name, err == nil)
		if err != nil {
			t.Errorf("%s: %v", f.name, err)
			continue
		}
		t.Logf("%s: %s; the busy runner stayed; converged once lifted", f.name, summary)
	}
	// Let the job go with its runner.
	if _, err := m.Flush(ctx, runners.FlushBusy); err != nil {
		t.Errorf("final flush: %v", err)
	}
}

// busyIntact checks that the busy runner is still running its job, in LXD
// and on GitHub.
func busyIntact(ctx context.Context, r *rig.Rig, u rig.Unit, busy string, jobID githubtest.JobID) error {
	j, _ := r.Sim.Job(jobID)
	if j.State != githubtest.JobInProgress || j.RunnerName != busy {
		return fmt.Errorf("the busy runner's job is %s (conclusion %q) on %q", j.State, j.Conclusion, j.RunnerName)
	}
	c, err := r.Take(ctx, u)
	if err != nil {
		return err
	}
	if !slices.Contains(c.Instances, busy) || !slices.Contains(c.GitHub, busy) {
		return fmt.Errorf("the busy runner %s is gone: LXD %v, GitHub %v", busy, c.Instances, c.GitHub)
	}
	return nil
}

func githubTrial(ctx context.Context, r *rig.Rig, u rig.Unit, m *runners.Manager, f githubFault, busy string, jobID githubtest.JobID) (string, error) {
	lift := f.start(r)
	lifted := false
	defer func() {
		if !lifted {
			lift()
		}
	}()
	failed, example := 0, ""
	for _, want := range f.wants {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := m.Reconcile(rctx, want, rig.Resources)
		cancel()
		if err != nil {
			failed++
			if werr := f.why(err); werr != nil {
				return "", fmt.Errorf("reconcile to %d: %w", want, werr)
			}
			if example == "" {
				example = firstLine(err.Error())
			}
		}
		if err := busyIntact(ctx, r, u, busy, jobID); err != nil {
			return "", fmt.Errorf("during the fault, reconcile to %d: %w", want, err)
		}
	}
	if f.mustFail && failed == 0 {
		return "", errors.New("no reconcile failed while the fault held")
	}
	summary := fmt.Sprintf("%d of %d reconciles failed during the fault (first: %q)", failed, len(f.wants), example)
	clear := lift()
	lifted = true
	if err := waitUntil(ctx, clear); err != nil {
		return "", err
	}

	want := f.wants[len(f.wants)-1]
	var why []string
	for n := 1; n <= 2; n++ {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := m.Reconcile(rctx, want, rig.Resources)
		cancel()
		if err := busyIntact(ctx, r, u, busy, jobID); err != nil {
			return "", fmt.Errorf("after the fault: %w", err)
		}
		c, cerr := r.Take(ctx, u)
		if cerr != nil {
			return "", cerr
		}
		if err == nil && c.Converged(want) {
			return summary, nil
		}
		why = append(why, fmt.Sprintf("reconcile %d after the fault: %s (error %v)", n, c.Why(want), err))
	}
	return "", errors.New(strings.Join(why, "; "))
}

// waitUntil waits for the moment t (zero: none) or for ctx to end.
func waitUntil(ctx context.Context, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
