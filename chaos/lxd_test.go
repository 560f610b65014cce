package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/juju/jujutest"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
	"charm.example/github-runner/internal/runners"
)

// TestLXDCreationFails makes runner creation fail in LXD, both before an
// instance exists (the runner image's alias is gone) and after (a profile
// whose device cannot start): the error says why, nothing is left behind in
// LXD or on GitHub, the other runners stay, and the unit converges once the
// cause is gone.
func TestLXDCreationFails(t *testing.T) {
	t.Parallel()
	r := newRig(t, rig.Options{Name: "chaos-lxd"})
	u := unit(t, r, "lxdfail")
	ctx := deadline(t, 3*time.Minute)
	good, err := r.Manager(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := good.Reconcile(ctx, 2, rig.Resources); err != nil {
		t.Fatal(err)
	}

	badProfile := lxdtest.UniqueName("chaos-badprofile")
	if err := r.LXD.CreateProfile(ctx, lxd.ProfilesPost{Name: badProfile, ProfilePut: lxd.ProfilePut{
		Description: "chaos: a disk whose source does not exist, so instances cannot start",
		Devices: map[string]map[string]string{
			"missing": {"type": "disk", "source": filepath.Join(t.TempDir(), "missing"), "path": "/mnt/missing"},
		},
	}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.LXD.DeleteProfile(ctx, badProfile); err != nil {
			t.Errorf("cannot delete profile %s: %v", badProfile, err)
		}
	})

	cases := []struct {
		name   string
		adjust func(*runners.Config)
	}{
		{"runner image alias gone", func(c *runners.Config) { c.ImageAlias = lxdtest.UniqueName("chaos-gone-image") }},
		{"profile whose device cannot start", func(c *runners.Config) { c.Profiles = append(c.Profiles, badProfile) }},
	}
	for _, tc := range cases {
		err := creationTrial(ctx, r, u, good, tc.adjust)
		record("lxd: "+tc.name, err == nil)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		t.Logf("%s: failed cleanly, nothing leaked, converged once fixed", tc.name)
	}
}

func creationTrial(ctx context.Context, r *rig.Rig, u rig.Unit, good *runners.Manager, adjust func(*runners.Config)) error {
	before, err := r.Take(ctx, u)
	if err != nil {
		return err
	}
	if !before.Converged(2) {
		return fmt.Errorf("not at 2 runners to start with: %s", before.Why(2))
	}
	bad, err := r.Manager(u, adjust)
	if err != nil {
		return err
	}
	res, err := bad.Reconcile(ctx, 4, rig.Resources)
	if err == nil {
		return errors.New("the reconcile succeeded")
	}
	if len(res.Failures) != 2 || len(res.Created) != 0 {
		return fmt.Errorf("want 2 failures and nothing created, got %d failures, created %v", len(res.Failures), res.Created)
	}
	if !strings.Contains(err.Error(), "cannot launch runner") {
		return fmt.Errorf("the error does not say what failed: %v", err)
	}
	after, err := r.Take(ctx, u)
	if err != nil {
		return err
	}
	if !after.Converged(2) || strings.Join(after.Instances, ",") != strings.Join(before.Instances, ",") {
		return fmt.Errorf("a failed creation left something behind or touched the others: before %v, after LXD %v GitHub %v",
			before.Instances, after.Instances, after.GitHub)
	}
	if _, err := good.Reconcile(ctx, 2, rig.Resources); err != nil {
		return fmt.Errorf("reconcile once fixed: %w", err)
	}
	if c, err := r.Take(ctx, u); err != nil || !c.Converged(2) {
		return fmt.Errorf("not converged once fixed: %s (%v)", c.Why(2), err)
	}
	return nil
}

// TestLXDRestart kills a private LXD daemon of this test's own in the
// middle of a reconcile and starts it again: the reconcile returns with an
// error instead of hanging, and fresh reconciles converge with nothing
// leaked. The project's shared daemon is never touched.
func TestLXDRestart(t *testing.T) {
	t.Parallel()
	d := startDaemon(t)
	ctx := deadline(t, time.Duration(restartCount())*90*time.Second+2*time.Minute)
	r, err := rig.New(ctx, rig.Options{Socket: d.socket, BaseImage: lxdtest.Image(), Name: "chaos-restart"})
	if err != nil {
		t.Fatalf("cannot set up a rig on the second daemon: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("cannot tear the rig down: %v", err)
		}
	})
	u := unit(t, r, "restart")
	wants := []int{4, 1, 3}
	for i := range restartCount() {
		want := wants[i%len(wants)]
		err := restartTrial(ctx, t, d, r, u, want)
		record("lxd: daemon restarted mid-reconcile", err == nil)
		if err != nil {
			t.Errorf("restart %d (to %d runners): %v", i+1, want, err)
		}
	}
}

// restartTrial reconciles u towards want, kills and restarts the daemon
// at a random moment of it, and checks that fresh reconciles converge. A
// reconcile that ended before the kill is undone and tried again with an
// earlier moment.
func restartTrial(ctx context.Context, t *testing.T, d *daemon, r *rig.Rig, u rig.Unit, want int) error {
	before, err := r.Take(ctx, u)
	if err != nil {
		return err
	}
	from := len(before.Instances)
	m, err := r.Manager(u, nil)
	if err != nil {
		return err
	}
	type outcome struct {
		err  error
		took time.Duration
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	within := guess(from, want).elapsed
	for attempt := 0; ; attempt++ {
		if attempt == 3 {
			return errors.New("the reconcile always ended before the daemon was killed")
		}
		delay := time.Duration(randomInt(50, int(within/time.Millisecond))) * time.Millisecond
		done := make(chan outcome, 1)
		start := time.Now()
		go func() {
			_, err := m.Reconcile(rctx, want, rig.Resources)
			done <- outcome{err, time.Since(start)}
		}()
		killAt := time.NewTimer(delay)
		var out outcome
		finished := false
		select {
		case out = <-done:
			finished = true
		case <-killAt.C:
		}
		killAt.Stop()
		if err := d.restart(ctx); err != nil {
			return err
		}
		if !finished {
			out = <-done
			if out.err == nil {
				t.Logf("killed after %s; the reconcile succeeded across the restart (%s)", delay, out.took.Round(time.Millisecond))
			} else {
				t.Logf("killed after %s; the reconcile returned after %s with: %s", delay, out.took.Round(time.Millisecond), firstLine(out.err.Error()))
			}
			break
		}
		t.Logf("the reconcile to %d ended after %s, before the kill at %s; trying again", want, out.took.Round(time.Millisecond), delay)
		within = out.took
		if err := settle(ctx, r, u, from); err != nil {
			return err
		}
	}
	if rctx.Err() != nil {
		return errors.New("the reconcile ran into its deadline instead of failing")
	}
	var why []string
	for n := 1; n <= 2; n++ {
		fctx, fcancel := context.WithTimeout(ctx, 2*time.Minute)
		_, err := m.Reconcile(fctx, want, rig.Resources)
		fcancel()
		c, cerr := r.Take(ctx, u)
		if cerr != nil {
			return cerr
		}
		if c.Converged(want) {
			t.Logf("converged to %d runners after %d fresh reconcile(s)", want, n)
			return nil
		}
		why = append(why, fmt.Sprintf("after fresh reconcile %d: %s (error %v)", n, c.Why(want), err))
	}
	return errors.New(strings.Join(why, "; "))
}

// daemon is a private LXD daemon of the suite's own, started and stopped
// with the project's scripts and its own TEST_LXD_DIR.
type daemon struct {
	dir, socket, scripts string
}

// startDaemon starts the second daemon (scripts/lxd-up.sh; root needed) and
// stops it when the test ends.
func startDaemon(t *testing.T) *daemon {
	t.Helper()
	lxdtest.Socket(t) // the project's LXD is up, so its packages are installed
	if os.Geteuid() != 0 {
		msg := "starting a second LXD daemon needs root"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx := deadline(t, 3*time.Minute)
	root, err := jujutest.ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{dir: lxdtest.Dir() + "-chaos", scripts: filepath.Join(root, "scripts")}
	out, err := d.script(ctx, "lxd-up.sh")
	if err != nil {
		t.Fatal(err)
	}
	d.socket = strings.TrimSpace(out)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := d.script(ctx, "lxd-down.sh"); err != nil {
			t.Errorf("cannot stop the second LXD daemon: %v", err)
		}
	})
	return d
}

func (d *daemon) script(ctx context.Context, name string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(d.scripts, name))
	cmd.Env = append(os.Environ(), "TEST_LXD_DIR="+d.dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// restart kills the daemon with SIGKILL, as a crash would, and starts it
// again; the instances keep running meanwhile.
func (d *daemon) restart(ctx context.Context) error {
	raw, err := os.ReadFile(filepath.Join(d.dir, "lxd.pid"))
	if err != nil {
		return fmt.Errorf("cannot find the daemon's pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("bad daemon pid %q", raw)
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if !bytes.Contains(cmdline, []byte("lxd")) {
		return fmt.Errorf("pid %d is not the LXD daemon (%q)", pid, cmdline)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("cannot kill the daemon: %w", err)
	}
	// A process dies of SIGKILL only once out of uninterruptible sleep;
	// until then it holds the daemon's database and a new daemon hangs.
	if err := waitDead(ctx, pid); err != nil {
		return err
	}
	if _, err := d.script(ctx, "lxd-up.sh"); err != nil {
		return fmt.Errorf("cannot start the daemon again: %w", err)
	}
	return nil
}

func firstLine(s string) string {
	first, rest, _ := strings.Cut(s, "\n")
	if rest != "" {
		return fmt.Sprintf("%s (and %d more lines)", first, strings.Count(rest, "\n")+1)
	}
	return first
}

// waitDead waits until pid has exited (gone, or a zombie nobody reaped).
func waitDead(ctx context.Context, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil // gone
		}
		// The state follows the command name in parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the killed daemon %d does not exit: %w", pid, ctx.Err())
		case <-tick.C:
		}
	}
}
