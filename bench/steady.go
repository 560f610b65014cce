package main

import (
	"context"
	"fmt"
	"maps"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/runners"
)

// Steady is what a reconcile with nothing to do costs.
type Steady struct {
	N, Foreign, Pages int
	// Ours is the REST requests of one steady reconcile, by endpoint.
	Ours map[string]int
	// Reference is what the reference would send, computed.
	Reference map[string]int
	// Reconciles is how many steady reconciles were counted; Varied is true
	// when they did not all send the same requests (Ours is then the most).
	Reconciles int
	Varied     bool

	SmallN, LargeN int
	Small, Large   []time.Duration
}

func (st *Steady) stableText() string {
	if st.Varied {
		return "they did not all send the same requests; the table shows the most any one sent"
	}
	return "every one sent exactly these"
}

// Endpoints of the organisation runner API, as the simulator counts them.
const (
	epList         = "GET /orgs/{org}/actions/runners"
	epRegistration = "POST /orgs/{org}/actions/runners/registration-token"
	epRemove       = "POST /orgs/{org}/actions/runners/remove-token"
)

// steady adds the foreign runners (they stay for the later measures, as an
// organisation's other runners would), counts the requests of steady
// reconciles of N runners, then times steady reconciles at two sizes.
func (b *bench) steady(ctx context.Context, rep *Report) error {
	st := &Steady{N: b.s.n, Foreign: b.s.foreign, SmallN: b.s.small, LargeN: b.s.large}
	for i := range b.s.foreign {
		_, err := b.r.Sim.AddRunner(b.r.Org, githubtest.RunnerSeed{
			Name: fmt.Sprintf("foreign-%04d", i), Labels: []string{"foreign"}, Online: i%3 != 0, Busy: i%7 == 0,
		})
		if err != nil {
			return err
		}
	}
	st.Pages = (st.N + st.Foreign + 99) / 100
	st.Reference = map[string]int{epList: st.Pages, epRegistration: 1, epRemove: 1}

	u, err := b.unit("steady")
	if err != nil {
		return err
	}
	m, err := b.up(ctx, u, st.N)
	if err != nil {
		return err
	}
	for i := range b.s.rounds {
		before := b.r.Sim.Counts()
		if _, err := b.steadyOnce(ctx, m, st.N); err != nil {
			return err
		}
		got := rig.RESTCounts(before, b.r.Sim.Counts())
		if i > 0 && !maps.Equal(got, st.Ours) {
			st.Varied = true
			for k, v := range st.Ours {
				got[k] = max(got[k], v)
			}
		}
		st.Ours = got
		st.Reconciles++
	}
	if err := b.clean(ctx, u); err != nil {
		return err
	}

	small, err := b.unit("steady-small")
	if err != nil {
		return err
	}
	large, err := b.unit("steady-large")
	if err != nil {
		return err
	}
	ms, err := b.up(ctx, small, st.SmallN)
	if err != nil {
		return err
	}
	ml, err := b.up(ctx, large, st.LargeN)
	if err != nil {
		return err
	}
	// Steady reconciles are short and the machine noisy: more rounds.
	for range steadyRounds(b.s.rounds) {
		d, err := b.steadyOnce(ctx, ms, st.SmallN)
		if err != nil {
			return err
		}
		st.Small = append(st.Small, d)
		d, err = b.steadyOnce(ctx, ml, st.LargeN)
		if err != nil {
			return err
		}
		st.Large = append(st.Large, d)
	}
	b.log.Info("steady state", "requests", st.Ours, "small", median(st.Small), "large", median(st.Large))
	if err := b.clean(ctx, small); err != nil {
		return err
	}
	if err := b.clean(ctx, large); err != nil {
		return err
	}
	rep.Steady = st
	return nil
}

// up reconciles u to n runners and waits until they are online.
func (b *bench) up(ctx context.Context, u rig.Unit, n int, labels ...string) (*runners.Manager, error) {
	m, err := b.manager(u, 0, labels...)
	if err != nil {
		return nil, err
	}
	if _, err := m.Reconcile(ctx, n, rig.Resources); err != nil {
		return nil, fmt.Errorf("reconcile %s to %d: %w", u.Name, n, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := b.r.WaitOnline(wctx, u, n); err != nil {
		return nil, err
	}
	return m, nil
}

// steadyOnce times one reconcile that must find nothing to do.
func (b *bench) steadyOnce(ctx context.Context, m *runners.Manager, n int) (time.Duration, error) {
	start := time.Now()
	res, err := m.Reconcile(ctx, n, rig.Resources)
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("steady reconcile of %d: %w", n, err)
	}
	if len(res.Created) > 0 || len(res.Removed) > 0 {
		return 0, fmt.Errorf("steady reconcile of %d was not steady: created %v, removed %v", n, res.Created, res.Removed)
	}
	return d, nil
}

// steadyRounds is how many steady reconciles of each size are timed.
func steadyRounds(rounds int) int { return max(3*rounds, 5) }
