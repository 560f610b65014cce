package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/lxd/lxdtest"
	"charm.example/github-runner/internal/runners"
)

// killMode is how a crash trial picks its moment.
type killMode int

const (
	afterDelay         killMode = iota // a random delay after the process starts
	afterLXDRequest                    // right after its N-th LXD request answered
	afterGitHubRequest                 // right after its N-th GitHub request answered
)

// runStats is what one command line run did before it ended or was killed.
type runStats struct {
	killed  bool
	elapsed time.Duration
	lxd, gh int
}

// estimate is the size of a whole run of one transition, to pick kill
// points within: a first guess, corrected by the runs that ended before
// their kill point.
type estimate struct {
	elapsed time.Duration
	lxd, gh int
}

func guess(from, want int) estimate {
	n := max(from, want, 1)
	return estimate{elapsed: time.Duration(n)*800*time.Millisecond + 500*time.Millisecond, lxd: 20*n + 5, gh: from + want + 3}
}

// TestCrash kills the reconcile at random points and checks that nothing
// is left behind: no lock held, and at most two fresh reconciles (ideally
// one) bring LXD and GitHub to exactly the wanted runners.
func TestCrash(t *testing.T) {
	t.Parallel()
	r := newRig(t, rig.Options{Name: "chaos-crash"})
	bin := charmCLI(t)
	u := unit(t, r, "crash")
	if err := r.LendImage(deadline(t, time.Minute), u); err != nil {
		t.Fatal(err)
	}
	trials := crashCount()
	ctx := deadline(t, time.Duration(trials)*30*time.Second+time.Minute)

	wants := []int{3, 1, 4, 0, 2}
	learnt := map[[2]int]estimate{}
	passed, afterOne := 0, 0
	for i := range trials {
		mode := killMode(i % 3)
		want := wants[i%len(wants)]
		res := crashTrial(ctx, t, r, u, bin, mode, want, learnt)
		record("crash", res.err == nil)
		if res.err != nil {
			t.Errorf("trial %d (kill %s, to %d runners): %v", i+1, res.point, want, res.err)
			continue
		}
		passed++
		if res.reconciles == 1 {
			afterOne++
		}
		t.Logf("trial %d: killed %s on the way to %d runners; converged after %d fresh reconcile(s)", i+1, res.point, want, res.reconciles)
		if res.notYet != "" {
			t.Logf("trial %d: %s", i+1, res.notYet)
		}
	}
	t.Logf("crash: %d of %d trials passed; %d converged after one fresh reconcile, %d after two", passed, trials, afterOne, passed-afterOne)
}

// settle brings u back to n runners with an in-process reconcile.
func settle(ctx context.Context, r *rig.Rig, u rig.Unit, n int) error {
	if err := waitOperations(ctx, r.Socket(), u.Owner.Prefix()); err != nil {
		return err
	}
	m, err := r.Manager(u, nil)
	if err != nil {
		return err
	}
	if _, err := m.Reconcile(ctx, n, rig.Resources); err != nil {
		return fmt.Errorf("cannot put the unit back to %d runners: %w", n, err)
	}
	return nil
}

type trialResult struct {
	point      string
	reconciles int
	// notYet says why the first fresh reconcile did not converge, when it
	// took two.
	notYet string
	err    error
}

// crashTrial runs the charm's `github-runner reconcile` towards want and
// kills it at a point chosen by mode. A run that ended before its point
// teaches learnt the transition's size; the unit is put back and the trial
// tried again with a point within that size.
func crashTrial(ctx context.Context, t *testing.T, r *rig.Rig, u rig.Unit, bin string, mode killMode, want int, learnt map[[2]int]estimate) trialResult {
	before, err := r.Take(ctx, u)
	if err != nil {
		return trialResult{err: err}
	}
	from := len(before.Instances)
	key := [2]int{from, want}
	est, ok := learnt[key]
	if !ok {
		est = guess(from, want)
	}
	var point string
	var stats runStats
	for attempt := 0; ; attempt++ {
		if attempt == 4 {
			return trialResult{point: point, err: fmt.Errorf("the reconcile always ended before its kill point")}
		}
		var k killer
		switch mode {
		case afterDelay:
			k.delay = time.Duration(randomInt(0, int(est.elapsed/time.Millisecond))) * time.Millisecond
			point = fmt.Sprintf("after %s", k.delay)
		case afterLXDRequest:
			k.lxd = randomInt(1, est.lxd)
			point = fmt.Sprintf("after LXD request %d", k.lxd)
		case afterGitHubRequest:
			k.gh = randomInt(1, est.gh)
			point = fmt.Sprintf("after GitHub request %d", k.gh)
		}
		stats, err = k.run(ctx, r.CLICmd(ctx, bin, u, want, "-v"))
		if err != nil {
			return trialResult{point: point, err: err}
		}
		if stats.killed {
			break
		}
		// It ended first: the run is smaller than thought. Put the unit
		// back where it was and aim within what the run did.
		est = estimate{elapsed: max(stats.elapsed, 100*time.Millisecond), lxd: max(stats.lxd, 1), gh: max(stats.gh, 1)}
		learnt[key] = est
		t.Logf("the run to %d runners ended before its kill point (%s); trying again within %+v", want, point, est)
		if err := settle(ctx, r, u, from); err != nil {
			return trialResult{point: point, err: err}
		}
	}
	point = fmt.Sprintf("%s (%d LXD and %d GitHub requests answered, %s in)", point, stats.lxd, stats.gh, stats.elapsed.Round(time.Millisecond))

	// The kernel drops a dead process's flock: the runner manager's lock
	// (runners.lock in its state folder) must be free.
	if held, err := lockHeld(u.StateFile("runners.lock")); err != nil || held {
		return trialResult{point: point, err: fmt.Errorf("the reconcile lock is still held after the kill (err %v)", err)}
	}
	// The next timer tick comes minutes later, when LXD has finished what
	// the dead process asked of it.
	if err := waitOperations(ctx, r.Socket(), u.Owner.Prefix()); err != nil {
		return trialResult{point: point, err: err}
	}
	m, err := r.Manager(u, nil)
	if err != nil {
		return trialResult{point: point, err: err}
	}
	var why []string
	for n := 1; n <= 2; n++ {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		res, rerr := m.Reconcile(rctx, want, rig.Resources)
		cancel()
		if errors.Is(rerr, runners.ErrLocked) {
			return trialResult{point: point, err: fmt.Errorf("fresh reconcile %d: %w", n, rerr)}
		}
		c, err := r.Take(ctx, u)
		if err != nil {
			return trialResult{point: point, err: err}
		}
		if c.Converged(want) {
			return trialResult{point: point, reconciles: n, notYet: strings.Join(why, "; ")}
		}
		var seen []string
		for _, r := range res.Runners {
			seen = append(seen, r.Name+"="+string(r.State))
		}
		why = append(why, fmt.Sprintf("after fresh reconcile %d: %s (reconcile error: %v, created %v, removed %v, runners seen %v)", n, c.Why(want), rerr, res.Created, res.Removed, seen))
	}
	return trialResult{point: point, err: errors.New(strings.Join(why, "; "))}
}

// killer kills a process at one point: after delay, or right after the
// lxd-th LXD or the gh-th GitHub request it logs.
type killer struct {
	delay time.Duration
	lxd   int
	gh    int
}

// run starts cmd (which must log at debug level to stderr) and kills it
// with SIGKILL at the point, or lets it end.
func (k killer) run(ctx context.Context, cmd *exec.Cmd) (runStats, error) {
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return runStats{}, err
	}
	cmd.Stdout = io.Discard
	var (
		mu     sync.Mutex
		stats  runStats
		killed bool
	)
	kill := func() {
		mu.Lock()
		defer mu.Unlock()
		if !killed && cmd.Process != nil {
			killed = cmd.Process.Signal(syscall.SIGKILL) == nil
		}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return runStats{}, err
	}
	if k.lxd == 0 && k.gh == 0 {
		timer := time.AfterFunc(k.delay, kill)
		defer timer.Stop()
	}
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		mu.Lock()
		switch {
		case strings.Contains(line, `msg="lxd request"`):
			stats.lxd++
		case strings.Contains(line, `msg="github request"`):
			stats.gh++
		}
		hit := (k.lxd > 0 && stats.lxd == k.lxd) || (k.gh > 0 && stats.gh == k.gh)
		mu.Unlock()
		if hit {
			kill()
		}
	}
	err = cmd.Wait()
	stats.elapsed = time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	stats.killed = killed
	var ee *exec.ExitError
	switch {
	case killed:
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			// It ended on its own just before the signal.
			stats.killed = false
		}
		return stats, nil
	case err == nil, errors.As(err, &ee):
		// It ran to its end, successfully or not.
		return stats, nil
	case ctx.Err() != nil:
		return stats, ctx.Err()
	}
	return stats, err
}

// lockHeld says whether another process holds the flock on path; a missing
// file is not held.
func lockHeld(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// waitOperations waits until LXD runs no operation on an instance whose
// name starts with prefix.
func waitOperations(ctx context.Context, socket, prefix string) error {
	client := lxdtest.HTTPClient(socket)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		busy, err := operationsOn(ctx, client, prefix)
		if err == nil && len(busy) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("LXD operations on %s* still running (%v): %w", prefix, busy, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func operationsOn(ctx context.Context, client *http.Client, prefix string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://lxd/1.0/operations?recursion=1", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Metadata map[string][]struct {
			Description string              `json:"description"`
			Status      string              `json:"status"`
			Resources   map[string][]string `json:"resources"`
		} `json:"metadata"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	var busy []string
	for _, ops := range body.Metadata {
		for _, op := range ops {
			if op.Status != "Running" && op.Status != "Pending" {
				continue
			}
			for _, res := range op.Resources["instances"] {
				if strings.HasPrefix(res[strings.LastIndex(res, "/")+1:], prefix) {
					busy = append(busy, op.Description+" "+res)
				}
			}
		}
	}
	return busy, nil
}
