// Package cli is the charm binary's command line, for an operator on a
// unit's machine or anyone keeping runners on a machine without Juju:
// `github-runner reconcile|flush|check|build-image|update-runner-bin|watch`.
// The commands do what the charm's actions do, with the same core
// (internal/pool) built from flags and GITHUB_RUNNER_* environment variables
// derived from config.yaml. The token comes from GITHUB_RUNNER_TOKEN or
// --token-file, never from an argument. What a run applied (labels,
// resources, image settings, credentials) is kept in the state folder, so
// that the next run replaces runners after a change as the charm does.
//
// Output for people goes to stdout (--format json for scripts), log lines
// to stderr. Exit status: 0 done, 1 failed, 2 bad usage or configuration.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/net/http/httpproxy"

	"charm.example/github-runner/internal/metrics"
	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/runners"
)

// Exit statuses.
const (
	ExitOK     = 0 // done
	ExitFailed = 1 // something failed: GitHub, LXD, a runner
	ExitUsage  = 2 // bad flags or configuration
)

// IO is where a command reads its environment and writes.
type IO struct {
	Stdout, Stderr io.Writer
	// Getenv reads an environment variable (os.Getenv in main).
	Getenv func(string) string
}

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string
	// Run runs the command with its arguments (after the name) and
	// returns the exit status.
	Run func(ctx context.Context, args []string, stdio IO) int
}

// Commands are the command line's subcommands, by name.
func Commands() []Command {
	return []Command{
		{Name: "check", Summary: "list this unit's runners and their states", Run: check},
		{Name: "reconcile", Summary: "bring the runners to --virtual-machines (building what is missing)", Run: reconcile},
		{Name: "flush", Summary: "remove the idle runners (--busy: all), then reconcile", Run: flush},
		{Name: "build-image", Summary: "rebuild the runner image now", Run: buildImage},
		{Name: "update-runner-bin", Summary: "fetch the newest runner application and replace the idle runners", Run: updateRunnerBin},
		{Name: WatchCommand, Summary: "reconcile as soon as a runner exits (the charm runs this as a daemon)", Run: watch},
	}
}

// env is one command's parsed settings and its pool.
type env struct {
	io   IO
	s    *settings
	cfg  pool.Settings
	pool *pool.Pool
	log  *slog.Logger
	// rec records what the command did, for the metrics the watcher serves
	// from the same state folder.
	rec *metrics.Recorder
}

// flush folds what the command recorded into the state folder's metrics.
func (e *env) flush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := e.rec.Flush(ctx); err != nil {
		e.log.Warn("cannot record metrics", "error", err)
	}
}

// setup parses the flags and builds the pool; a non-zero code means stop.
func setup(ctx context.Context, name string, args []string, sio IO, extra func(fs *flag.FlagSet)) (*env, int) {
	s := &settings{}
	fs := flag.NewFlagSet("github-runner "+name, flag.ContinueOnError)
	fs.SetOutput(sio.Stderr)
	s.addFlags(fs, sio.Getenv)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(sio.Stderr, "Usage: github-runner %s [flags]\n\nEvery option flag may instead be set as GITHUB_RUNNER_<NAME> in the environment.\n\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ExitOK
		}
		return nil, ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(sio.Stderr, "github-runner %s: unexpected arguments %q\n", name, fs.Args())
		return nil, ExitUsage
	}
	if s.format != "text" && s.format != "json" {
		fmt.Fprintf(sio.Stderr, "github-runner %s: --format %q: want text or json\n", name, s.format)
		return nil, ExitUsage
	}
	level := slog.LevelInfo
	if s.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(sio.Stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := s.config(sio.Getenv)
	if err != nil {
		fmt.Fprintf(sio.Stderr, "github-runner %s: %v\n", name, describe(err))
		return nil, ExitUsage
	}
	for _, f := range []string{s.tokenFile, s.keyFile} {
		if fi, err := os.Stat(f); f != "" && err == nil && fi.Mode().Perm()&0o004 != 0 {
			log.Warn("a secret's file is readable by every user; restrict it with chmod 600", "file", f)
		}
	}
	if s.unit == "" {
		s.unit = s.app + "/0"
	}
	stateDir, err := filepath.Abs(s.stateDir)
	if err != nil {
		fmt.Fprintf(sio.Stderr, "github-runner %s: --state-dir: %v\n", name, err)
		return nil, ExitUsage
	}
	rec, err := metrics.NewRecorder(metrics.RecorderOptions{Dir: stateDir})
	if err != nil {
		fmt.Fprintf(sio.Stderr, "github-runner %s: --state-dir: %v\n", name, err)
		return nil, ExitUsage
	}
	p, err := pool.Open(cfg, pool.Options{
		App: s.app, Unit: s.unit, Model: s.model, StateDir: stateDir,
		Proxy: http.ProxyFromEnvironment, ModelProxy: environmentProxy(), Logger: log,
		Memory: fileMemory{dir: stateDir}, Metrics: rec,
	})
	if err != nil {
		fmt.Fprintf(sio.Stderr, "github-runner %s: %v\n", name, describe(err))
		return nil, exitFor(err)
	}
	if err := p.CheckLXD(ctx); err != nil {
		fmt.Fprintf(sio.Stderr, "github-runner %s: %v\n", name, describe(err))
		return nil, exitFor(err)
	}
	return &env{io: sio, s: s, cfg: cfg, pool: p, log: log, rec: rec}, ExitOK
}

// describe is what a person reads about err: the charm's status message
// for what only they can fix, the error itself otherwise.
func describe(err error) string {
	if v := pool.Classify(err); v.Kind != pool.Retry {
		return v.ActionMessage()
	}
	return err.Error()
}

// exitFor is the exit status for err.
func exitFor(err error) int {
	if v := pool.Classify(err); v.Kind == pool.Block && v.Config {
		return ExitUsage
	}
	return ExitFailed
}

// fail reports err and returns its exit status.
func (e *env) fail(what string, err error) int {
	fmt.Fprintf(e.io.Stderr, "github-runner: %s: %s\n", what, describe(err))
	return exitFor(err)
}

// emit writes v as JSON with --format json, or text otherwise.
func (e *env) emit(v any, text func(w io.Writer)) {
	if e.s.format == "json" {
		enc := json.NewEncoder(e.io.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return
	}
	text(e.io.Stdout)
}

// runnerJSON is a runner in --format json output.
type runnerJSON struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Online   bool   `json:"online"`
	Busy     bool   `json:"busy"`
	GitHubID int64  `json:"github-id,omitempty"`
	Instance string `json:"instance,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func check(ctx context.Context, args []string, sio IO) int {
	e, code := setup(ctx, "check", args, sio, nil)
	if e == nil {
		return code
	}
	defer e.flush(ctx)
	rs, err := e.pool.Runners(ctx)
	if err != nil {
		return e.fail("cannot list the runners", err)
	}
	counts := pool.CountRunners(rs)
	list := make([]runnerJSON, 0, len(rs))
	for _, r := range rs {
		list = append(list, runnerJSON{Name: r.Name, State: string(r.State), Online: r.Online, Busy: r.Busy,
			GitHubID: r.GitHubID, Instance: r.InstanceState, Reason: r.Reason.String()})
	}
	e.emit(map[string]any{
		"unit": e.s.unit, "wanted": e.cfg.VirtualMachines, "online": counts.Online, "offline": counts.Offline,
		"busy": counts.Busy, "idle": counts.Idle, "starting": counts.Starting, "unhealthy": counts.Unhealthy,
		"runners": list,
	}, func(w io.Writer) {
		if len(rs) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RUNNER\tSTATE\tGITHUB ID\tINSTANCE\tNOTE")
			for _, r := range list {
				id := "-"
				if r.GitHubID != 0 {
					id = fmt.Sprint(r.GitHubID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.State, id, orDash(r.Instance), r.Reason)
			}
			tw.Flush()
		}
		fmt.Fprintf(w, "%s: %s\n", e.s.unit, pool.Summary(e.cfg.VirtualMachines, rs))
	})
	return ExitOK
}

func reconcile(ctx context.Context, args []string, sio IO) int {
	e, code := setup(ctx, "reconcile", args, sio, nil)
	if e == nil {
		return code
	}
	defer e.flush(ctx)
	// As the charm does: the runner application and image when missing,
	// idle runners replaced after a change of labels, resources, image
	// settings or credentials, then the runners.
	res, err := e.pool.Converge(ctx, pool.ConvergeOptions{Reconcile: true})
	if res != nil {
		e.emitResult("reconciled", *res)
	}
	if err != nil {
		return e.fail("reconcile", err)
	}
	return ExitOK
}

func (e *env) emitResult(what string, res runners.Result) {
	e.emit(pool.ResultReport(res), func(w io.Writer) { writeResult(w, what, e.s.unit, res) })
}

// writeResult writes a reconcile's or flush's result for people.
func writeResult(w io.Writer, what, unit string, res runners.Result) {
	fmt.Fprintf(w, "%s %s: %d -> %d runners (%+d)", what, unit, res.Before, res.After, res.Delta)
	if res.Busy > 0 {
		fmt.Fprintf(w, ", %d busy left alone", res.Busy)
	}
	fmt.Fprintln(w)
	created := append([]string(nil), res.Created...)
	sort.Strings(created)
	for _, n := range created {
		fmt.Fprintf(w, "  created %s\n", n)
	}
	for _, r := range res.Removed {
		fmt.Fprintf(w, "  removed %s (%s)\n", r.Name, r.Reason)
	}
	failures := append([]runners.Failure(nil), res.Failures...)
	sort.Slice(failures, func(i, j int) bool { return failures[i].Name < failures[j].Name })
	for _, f := range failures {
		fmt.Fprintf(w, "  failed  %s: %v\n", f.Name, f.Err)
	}
}

func flush(ctx context.Context, args []string, sio IO) int {
	var busy, noReconcile bool
	e, code := setup(ctx, "flush", args, sio, func(fs *flag.FlagSet) {
		fs.BoolVar(&busy, "busy", false, "also remove busy runners, cancelling their jobs")
		fs.BoolVar(&noReconcile, "no-reconcile", false, "do not create replacements")
	})
	if e == nil {
		return code
	}
	defer e.flush(ctx)
	mode := runners.FlushIdle
	if busy {
		mode = runners.FlushBusy
	}
	flushed, err := e.pool.Flush(ctx, mode)
	var res runners.Result
	var rerr error
	if err == nil && !noReconcile {
		res, rerr = e.pool.Reconcile(ctx)
	}
	out := map[string]any{"flush": pool.ResultReport(flushed)}
	if err == nil && !noReconcile {
		out["reconcile"] = pool.ResultReport(res)
	}
	e.emit(out, func(w io.Writer) {
		writeResult(w, "flushed", e.s.unit, flushed)
		if err == nil && !noReconcile {
			writeResult(w, "reconciled", e.s.unit, res)
		}
	})
	if err != nil {
		return e.fail("flush", err)
	}
	if rerr != nil {
		return e.fail("reconcile", rerr)
	}
	return ExitOK
}

func buildImage(ctx context.Context, args []string, sio IO) int {
	e, code := setup(ctx, "build-image", args, sio, nil)
	if e == nil {
		return code
	}
	defer e.flush(ctx)
	start := time.Now()
	if err := e.pool.BuildImage(ctx, "requested"); err != nil {
		return e.fail("cannot build the runner image", err)
	}
	took := time.Since(start)
	version := e.pool.RunnerVersion()
	e.emit(map[string]any{"image": e.pool.ImageAlias(), "runner-version": version, "seconds": int(took.Seconds())},
		func(w io.Writer) {
			fmt.Fprintf(w, "runner image %s built from %s with runner %s in %s\n", e.pool.ImageAlias(),
				e.cfg.BaseImage, version, took.Round(time.Second))
		})
	return ExitOK
}

func updateRunnerBin(ctx context.Context, args []string, sio IO) int {
	e, code := setup(ctx, "update-runner-bin", args, sio, nil)
	if e == nil {
		return code
	}
	defer e.flush(ctx)
	up, err := e.pool.UpdateRunnerApplication(ctx)
	if up.Flushed == nil && err != nil {
		return e.fail("cannot update the runner application", err)
	}
	out := map[string]any{"version": up.Version, "previous-version": up.Previous, "updated": up.Changed}
	if !up.Changed {
		e.emit(out, func(w io.Writer) { fmt.Fprintf(w, "runner application %s is the newest; nothing to do\n", up.Version) })
		return ExitOK
	}
	out["flushed"], out["created"] = len(up.Flushed.Removed), len(up.Reconciled.Created)
	e.emit(out, func(w io.Writer) {
		fmt.Fprintf(w, "runner application updated from %s to %s; replaced %d idle runners (%d busy finish first)\n",
			orDash(up.Previous), up.Version, len(up.Flushed.Removed), up.Flushed.Busy)
	})
	if err != nil {
		return e.fail("reconcile", err)
	}
	return ExitOK
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// environmentProxy is the proxy of the process environment (HTTP_PROXY,
// HTTPS_PROXY, NO_PROXY and their lower-case forms), which the command line
// gives the image build and the runners as the charm gives them the model's.
func environmentProxy() runners.Proxy {
	e := httpproxy.FromEnvironment()
	return runners.Proxy{HTTP: e.HTTPProxy, HTTPS: e.HTTPSProxy, NoProxy: e.NoProxy}
}
