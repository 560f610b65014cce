// Command bench measures the runner manager on the project's real LXD and
// the GitHub simulator, and writes the figures to docs/benchmarks.md:
//
//	go run ./bench -out docs/benchmarks.md     (make bench)
//
// The machine is shared and noisy, so every timing is reported beside a
// reference measured in the same run, as a ratio, and each is the median
// of a few rounds. Request counts come from the simulator's counters.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx)
	stop()
	os.Exit(code)
}

// settings are the command line's.
type settings struct {
	out      string
	rounds   int
	n        int
	foreign  int
	small    int
	large    int
	timeout  time.Duration
	useCharm bool
	steps    string
}

func run(ctx context.Context) int {
	var s settings
	flag.StringVar(&s.out, "out", "docs/benchmarks.md", "where to write the report (empty: stdout only)")
	flag.IntVar(&s.rounds, "rounds", 3, "rounds per timing (medians are reported)")
	flag.IntVar(&s.n, "n", 10, "runners for the scale-up and request-count measures")
	flag.IntVar(&s.foreign, "foreign", 500, "foreign runners in the organisation for the request counts")
	flag.IntVar(&s.small, "steady-small", 5, "runners of the small steady-state reconcile")
	flag.IntVar(&s.large, "steady-large", 20, "runners of the large steady-state reconcile (and the memory measure)")
	flag.DurationVar(&s.timeout, "timeout", 25*time.Minute, "bound of the whole run")
	flag.BoolVar(&s.useCharm, "charm", true, "measure the timer path through the packed charm in the Juju simulator")
	flag.StringVar(&s.steps, "steps", "scale-up,steady,replacement,memory,rate,realistic", "the measures to run, comma-separated (realistic alone updates only its section of -out)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: benchLevel()}))
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	report, err := measure(ctx, log, s)
	if err != nil {
		log.Error("benchmark failed", "error", err)
		return 1
	}
	text := report.Markdown()
	if s.steps == "realistic" && s.out != "" {
		// Only that section was measured: keep the rest of the report.
		if old, err := os.ReadFile(s.out); err == nil {
			text = report.spliceRealistic(string(old))
		}
	}
	fmt.Print(text)
	if s.out != "" {
		if err := os.MkdirAll(filepath.Dir(s.out), 0o755); err != nil {
			log.Error("cannot write the report", "error", err)
			return 1
		}
		if err := os.WriteFile(s.out, []byte(text), 0o644); err != nil {
			log.Error("cannot write the report", "error", err)
			return 1
		}
		log.Info("report written", "path", s.out)
	}
	return 0
}

// measure sets the rig up, runs every measure and tears the rig down.
func measure(ctx context.Context, log *slog.Logger, s settings) (_ *Report, err error) {
	started := time.Now()
	r, err := rig.New(ctx, rig.Options{Socket: lxdtest.SocketPath(), BaseImage: lxdtest.Image(), Name: "bench", Logger: log})
	if err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if cerr := r.Close(cctx); cerr != nil {
			log.Warn("cannot tear the rig down", "error", cerr)
		}
	}()
	b := &bench{r: r, log: log, s: s}
	defer func() {
		if b.charm != nil {
			b.closeCharm(b.charm)
		}
		b.cleanAll()
	}()

	rep := &Report{Cores: runtime.NumCPU(), Date: time.Now().UTC(), Settings: s}
	steps := []struct {
		name string
		fn   func(context.Context, *Report) error
	}{
		{"scale-up", b.scaleUp},
		{"steady", b.steady},
		{"replacement", b.replacement},
		{"memory", b.peakMemory},
		{"rate", b.rate},
		{"realistic", b.realistic},
	}
	wanted := strings.Split(s.steps, ",")
	for _, st := range steps {
		if !slices.Contains(wanted, st.name) {
			continue
		}
		t := time.Now()
		log.Info("measuring", "step", st.name)
		if err := st.fn(ctx, rep); err != nil {
			return nil, fmt.Errorf("%s: %w", st.name, err)
		}
		log.Info("measured", "step", st.name, "took", time.Since(t).Round(time.Second))
	}
	rep.Took = time.Since(started)
	return rep, nil
}

// benchLevel is the log level: debug with BENCH_DEBUG=1.
func benchLevel() slog.Level {
	if os.Getenv("BENCH_DEBUG") == "1" {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
