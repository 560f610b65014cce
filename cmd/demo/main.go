// Command demo shows the charm doing its main job end to end on this
// machine, with simulators standing in for Juju and GitHub: it packs the
// real charm, runs it under the Juju simulator (jujutest) against the
// project's LXD daemon and the GitHub simulator (githubtest), deploys a unit
// with three runners, queues jobs that the runners take, replaces the
// finished runners through the reconcile timer's juju-exec command, flushes
// them and removes the unit, leaving no instance and no GitHub runner.
//
// Run it with `make demo` (as root: it starts the project's LXD daemon
// first) or, with that daemon running, `go run ./cmd/demo` from the module.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/juju/jujutest"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
	"charm.example/github-runner/internal/runners"
	"charm.example/github-runner/internal/schedule"
)

const (
	demoOrg   = "demo-org"
	demoToken = "ghp_demoTokenOnlyTheSimulatorKnows0"
	demoUnit  = "github-runner/0"
)

func main() {
	var o options
	flag.StringVar(&o.socket, "lxd-socket", lxdtest.SocketPath(), "the LXD daemon's unix socket (make lxd-up starts the project's)")
	flag.StringVar(&o.image, "image", lxdtest.Image(), "local LXD image the runner image is built from")
	flag.IntVar(&o.runners, "runners", 3, "runners the unit keeps")
	flag.BoolVar(&o.verbose, "v", false, "also print the unit's log")
	flag.DurationVar(&o.timeout, "timeout", 6*time.Minute, "give up after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo failed: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	socket  string
	image   string
	runners int
	verbose bool
	timeout time.Duration
}

// demo is the running demonstration: what it started, and its output.
type demo struct {
	o        options
	out      io.Writer
	start    time.Time
	gh       *githubtest.Server
	lxd      *lxd.Client
	sim      *jujutest.Sim
	prefix   string
	logSeen  int
	histSeen int
}

func run(ctx context.Context, o options, out io.Writer) (err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	d := &demo{o: o, out: out, start: time.Now()}

	d.step("Checking the LXD daemon at %s", o.socket)
	d.lxd, err = lxd.Connect(ctx, lxd.Options{Socket: o.socket})
	if err != nil {
		return fmt.Errorf("cannot reach LXD (run `make lxd-up` as root first): %w", err)
	}
	if _, err := d.lxd.GetImageAlias(ctx, o.image); err != nil {
		return fmt.Errorf("no image %q in LXD (`make lxd-up` imports it): %w", o.image, err)
	}

	work, err := os.MkdirTemp("", "github-runner-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	d.step("Building the charm binary and packing it, as `make charm` does")
	tools, err := jujutest.BuildTools(ctx, work)
	if err != nil {
		return err
	}
	archive, err := jujutest.BuildCharm(ctx, work)
	if err != nil {
		return err
	}
	d.note("%s", filepath.Base(archive))

	d.gh, err = githubtest.Start(githubtest.Options{Orgs: []string{demoOrg}, Tokens: map[string][]string{demoToken: {githubtest.ScopeAdminOrg}}})
	if err != nil {
		return err
	}
	defer d.gh.Close()
	d.step("GitHub simulator serving organisation %q at %s", demoOrg, d.gh.URL())

	_, port, err := net.SplitHostPort(d.gh.Addr())
	if err != nil {
		return err
	}
	profile := fmt.Sprintf("github-runner-demo-%d", os.Getpid())
	if err := d.lxd.CreateProfile(ctx, lxd.ProfilesPost{Name: profile, ProfilePut: lxd.ProfilePut{
		Description: "github-runner demo: the runners reach the GitHub simulator on 127.0.0.1:" + port,
		Devices:     map[string]map[string]string{"github-sim": lxdtest.LoopbackProxy(port)},
	}}); err != nil {
		return err
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if derr := d.lxd.DeleteProfile(cctx, profile); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	d.note("LXD profile %s forwards 127.0.0.1:%s inside each runner to the simulator", profile, port)

	owner, err := runners.NewOwner("github-runner", demoUnit)
	if err != nil {
		return err
	}
	d.prefix = owner.Prefix()
	cronDir := filepath.Join(work, "cron.d")
	config := map[string]any{
		"path":               demoOrg,
		"token":              demoToken,
		"github-api-url":     d.gh.URL(),
		"lxd-socket":         o.socket,
		"lxd-profiles":       profile,
		"instance-type":      "container",
		"base-image":         o.image,
		"image-packages":     "",
		"vm-cpu":             1,
		"vm-memory":          "256MiB",
		"vm-disk":            "1GiB",
		"virtual-machines":   o.runners,
		"reconcile-interval": 2,
		"cron-directory":     cronDir,
		"timer-directory":    filepath.Join(work, "systemd"),
	}
	d.sim, err = jujutest.New(jujutest.Options{Charm: archive, Tools: tools, Unit: demoUnit, Config: config})
	if err != nil {
		return err
	}
	defer d.sim.Close()
	removed := false
	defer func() {
		if removed {
			return
		}
		// Whatever went wrong, the unit's runners go.
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		if rerr := d.sim.Remove(cctx); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing the unit: %w", rerr))
		}
	}()

	d.step("juju deploy github-runner --config virtual-machines=%d ... (the Juju simulator runs the packed charm)", o.runners)
	for _, hook := range []string{"install", "leader-elected", "config-changed", "start", "update-status"} {
		if err := d.hook(ctx, hook); err != nil {
			return err
		}
	}
	names, err := d.waitRunners(ctx, o.runners, "online")
	if err != nil {
		return err
	}
	d.note("on GitHub: %s", strings.Join(names, ", "))
	if err := d.hook(ctx, "update-status"); err != nil {
		return err
	}
	if err := d.action(ctx, "check-runners", nil); err != nil {
		return err
	}
	timer := schedule.Job{Unit: demoUnit, Event: schedule.EventReconcile}
	timers, _ := filepath.Glob(filepath.Join(cronDir, "github-runner-reconcile-*"))
	if len(timers) == 1 {
		line, _ := os.ReadFile(timers[0])
		d.note("the reconcile timer the charm wrote (%s):", timers[0])
		for _, l := range strings.Split(strings.TrimSpace(string(line)), "\n") {
			if !strings.HasPrefix(l, "#") && !strings.Contains(strings.SplitN(l, " ", 2)[0], "=") {
				d.note("  %s", l)
			}
		}
	}

	d.step("Queueing %d jobs on GitHub (4 s each)", o.runners)
	var jobs []githubtest.JobID
	for range o.runners {
		jobs = append(jobs, d.gh.QueueJob([]string{"self-hosted"}, 4*time.Second))
	}
	for _, id := range jobs {
		j, err := d.gh.WaitForJob(ctx, id, githubtest.JobInProgress)
		if err != nil {
			return err
		}
		d.note("job %d runs on %s", id, j.RunnerName)
	}
	if err := d.action(ctx, "check-runners", nil); err != nil {
		return err
	}
	var lastDone time.Time
	for _, id := range jobs {
		j, err := d.gh.WaitForJob(ctx, id, githubtest.JobCompleted)
		if err != nil {
			return err
		}
		d.note("job %d %s on %s after %s", id, j.Conclusion, j.RunnerName, j.CompletedAt.Sub(j.StartedAt).Round(100*time.Millisecond))
		if j.CompletedAt.After(lastDone) {
			lastDone = j.CompletedAt
		}
	}
	d.step("Each runner took its one job, de-registered and powered off; LXD deletes the ephemeral instances,")
	d.note("and the charm's exit watcher (reconcile-on-exit) dispatches a reconcile at once:")
	d.note("  %s", timer.DispatchCommand())
	fresh, err := d.waitFresh(ctx, o.runners, names)
	if err != nil {
		return err
	}
	d.note("fresh runners online %s after the last job ended, no timer needed: %s",
		time.Since(lastDone).Round(100*time.Millisecond), strings.Join(fresh, ", "))
	d.status()

	d.step("The reconcile timer still runs every 2 minutes as a safety net: %s", timer.DispatchCommand())
	res, err := d.sim.Shell(ctx, timer.DispatchCommand())
	if err != nil {
		return err
	}
	d.printLog()
	if res.Code != 0 {
		return fmt.Errorf("the timer's command failed with exit status %d: %s", res.Code, strings.TrimSpace(res.Stderr))
	}
	d.status()
	if _, err := d.waitRunners(ctx, o.runners, "online"); err != nil {
		return err
	}
	d.note("nothing to do: %s", strings.Join(d.ghRunners("online"), ", "))

	if err := d.action(ctx, "flush-runners", map[string]any{"flush-busy": true}); err != nil {
		return err
	}
	if _, err := d.waitRunners(ctx, o.runners, "online"); err != nil {
		return err
	}

	d.step("juju remove-unit %s (stop, remove)", demoUnit)
	for _, hook := range []string{"stop", "remove"} {
		if err := d.hook(ctx, hook); err != nil {
			return err
		}
	}
	removed = true
	left, err := d.instances(ctx)
	if err != nil {
		return err
	}
	onGitHub := d.ghRunners("")
	_, imgErr := d.lxd.GetImageAlias(ctx, owner.ImageAlias())
	d.note("instances left: %d, GitHub runners left: %d, runner image left: %t", len(left), len(onGitHub), imgErr == nil)
	if len(left) > 0 || len(onGitHub) > 0 || imgErr == nil {
		return fmt.Errorf("the unit left %v in LXD and %v on GitHub", left, onGitHub)
	}
	d.step("Done in %s: %d REST requests to GitHub", time.Since(d.start).Round(time.Second), d.gh.RESTCount())
	return nil
}

// step prints a headline.
func (d *demo) step(format string, args ...any) {
	fmt.Fprintf(d.out, "\n[%5.1fs] %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// note prints a detail under the current step.
func (d *demo) note(format string, args ...any) {
	fmt.Fprintf(d.out, "         %s\n", fmt.Sprintf(format, args...))
}

// hook runs a hook and prints the statuses it went through.
func (d *demo) hook(ctx context.Context, name string) error {
	t := time.Now()
	_, err := d.sim.RunHook(ctx, name)
	d.note("hook %-15s %5.1fs", name, time.Since(t).Seconds())
	d.printLog()
	d.status()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, d.logTail(20))
	}
	return nil
}

// status prints the statuses set since the last call.
func (d *demo) status() {
	hist := d.sim.StatusHistory()
	for _, h := range hist[d.histSeen:] {
		if h.Target == "unit" {
			d.note("  status %-11s %s", h.Status.Status, h.Message)
		}
	}
	d.histSeen = len(hist)
}

// printLog prints the unit's new log lines with -v.
func (d *demo) printLog() {
	logs := d.sim.Logs()
	if d.o.verbose {
		for _, l := range logs[d.logSeen:] {
			if l.Level != "DEBUG" {
				d.note("  log %s %s", l.Level, l.Message)
			}
		}
	}
	d.logSeen = len(logs)
}

func (d *demo) logTail(n int) string {
	logs := d.sim.Logs()
	if len(logs) > n {
		logs = logs[len(logs)-n:]
	}
	var b strings.Builder
	for _, l := range logs {
		fmt.Fprintf(&b, "  %s %s: %s\n", l.Context, l.Level, l.Message)
	}
	return b.String()
}

// action runs an action as `juju run` would and prints its results.
func (d *demo) action(ctx context.Context, name string, params map[string]any) error {
	var args []string
	for k, v := range params {
		args = append(args, fmt.Sprintf("%s=%v", k, v))
	}
	d.step("juju run %s %s %s", demoUnit, name, strings.Join(args, " "))
	res, err := d.sim.RunAction(ctx, name, params)
	if err != nil {
		return err
	}
	for _, l := range res.Logs {
		d.note("  %s", l)
	}
	printResults(d, "", res.Results)
	d.printLog()
	d.status()
	if res.Status != "completed" {
		return fmt.Errorf("action %s %s: %s\n%s", name, res.Status, res.Message, d.logTail(20))
	}
	return nil
}

func printResults(d *demo, prefix string, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "return-code" {
			continue
		}
		if sub, ok := m[k].(map[string]any); ok {
			printResults(d, prefix+k+".", sub)
			continue
		}
		d.note("  %s%s: %v", prefix, k, m[k])
	}
}

// ghRunners are the unit's runners on GitHub with the given status ("" for
// any).
func (d *demo) ghRunners(status string) []string {
	var out []string
	for _, r := range d.gh.Runners(demoOrg) {
		if strings.HasPrefix(r.Name, d.prefix) && (status == "" || r.Status == status) {
			out = append(out, r.Name)
		}
	}
	sort.Strings(out)
	return out
}

// waitRunners waits until the unit has n runners on GitHub, all with
// status and none busy.
func (d *demo) waitRunners(ctx context.Context, n int, status string) ([]string, error) {
	var names []string
	err := d.gh.WaitFor(ctx, func() bool {
		all := d.ghRunners("")
		names = d.ghRunners(status)
		for _, r := range d.gh.Runners(demoOrg) {
			if r.Busy {
				return false
			}
		}
		return len(all) == n && len(names) == n
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d runners %s (have %v): %w\n%s", n, status, names, err, d.logTail(20))
	}
	return names, nil
}

// waitFresh waits until the unit has n idle runners online on GitHub, none
// of them among old.
func (d *demo) waitFresh(ctx context.Context, n int, old []string) ([]string, error) {
	var names []string
	err := d.gh.WaitFor(ctx, func() bool {
		names = d.ghRunners("online")
		for _, name := range names {
			if slices.Contains(old, name) {
				return false
			}
		}
		for _, r := range d.gh.Runners(demoOrg) {
			if r.Busy {
				return false
			}
		}
		return len(names) == n && len(d.ghRunners("")) == n
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d fresh runners (have %v): %w\n%s", n, names, err, d.logTail(20))
	}
	return names, nil
}

// instances are the unit's instances in LXD.
func (d *demo) instances(ctx context.Context) ([]string, error) {
	owner, err := runners.NewOwner("github-runner", demoUnit)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, role := range []string{runners.RoleRunner, runners.RoleBuilder} {
		list, err := d.lxd.GetInstances(ctx, lxd.InstanceFilter{Config: owner.Keys(role)})
		if err != nil {
			return nil, err
		}
		for _, in := range list {
			out = append(out, in.Name)
		}
	}
	return out, nil
}
