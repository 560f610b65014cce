package chaos

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/juju/jujutest"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

var (
	full          = flag.Bool("chaos.full", false, "run the full suite (make chaos) instead of the bounded form")
	crashTrials   = flag.Int("chaos.crash-trials", 0, "crash trials (0: 5, or 36 with -chaos.full)")
	restartTrials = flag.Int("chaos.restart-trials", 0, "LXD daemon restarts (0: 1, or 3 with -chaos.full)")
	seed          = flag.Uint64("chaos.seed", 0, "seed of the random kill points (0: from the clock)")
)

func crashCount() int {
	switch {
	case *crashTrials > 0:
		return *crashTrials
	case *full:
		return 36
	}
	return 5
}

func restartCount() int {
	switch {
	case *restartTrials > 0:
		return *restartTrials
	case *full:
		return 3
	}
	return 1
}

// suite is what the tests share: the base rig (its runner image is lent to
// every test's rig), the charm build, and the trial tally.
var suite struct {
	once    sync.Once
	base    *rig.Rig
	baseErr error

	charmOnce sync.Once
	charm     rig.CharmBuild
	charmErr  error
	charmDir  string
	// cli is the charm's binary, run as its command line.
	cli string

	mu     sync.Mutex
	tally  map[string]*count
	random *rand.Rand
}

type count struct{ passed, total int }

func TestMain(m *testing.M) {
	flag.Parse()
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	suite.random = rand.New(rand.NewPCG(s, s^0x5eed))
	suite.tally = map[string]*count{}
	code := m.Run()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if suite.base != nil {
		if err := suite.base.Close(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "chaos: cannot tear the base rig down:", err)
			code = 1
		}
	}
	if suite.charmDir != "" {
		os.RemoveAll(suite.charmDir)
	}
	printTally(s)
	os.Exit(code)
}

// record counts one trial of a kind.
func record(kind string, passed bool) {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	c := suite.tally[kind]
	if c == nil {
		c = &count{}
		suite.tally[kind] = c
	}
	c.total++
	if passed {
		c.passed++
	}
}

func printTally(seed uint64) {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	if len(suite.tally) == 0 {
		return
	}
	mode := "bounded"
	if *full {
		mode = "full"
	}
	kinds := make([]string, 0, len(suite.tally))
	for k := range suite.tally {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var passed, total int
	var b strings.Builder
	fmt.Fprintf(&b, "chaos (%s, seed %d): trials passed\n", mode, seed)
	for _, k := range kinds {
		c := suite.tally[k]
		fmt.Fprintf(&b, "  %-50s %3d of %3d\n", k, c.passed, c.total)
		passed += c.passed
		total += c.total
	}
	fmt.Fprintf(&b, "  %-50s %3d of %3d\n", "total", passed, total)
	fmt.Print(b.String())
}

// randomInt is a uniform int in [lo, hi] from the suite's seeded source.
func randomInt(lo, hi int) int {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	if hi <= lo {
		return lo
	}
	return lo + suite.random.IntN(hi-lo+1)
}

// baseRig is the rig on the project's LXD that builds the runner image.
func baseRig(t *testing.T) *rig.Rig {
	t.Helper()
	sock := lxdtest.Socket(t)
	suite.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		suite.base, suite.baseErr = rig.New(ctx, rig.Options{Socket: sock, BaseImage: lxdtest.Image(), Name: "chaos"})
	})
	if suite.baseErr != nil {
		t.Fatalf("cannot set up the rig: %v", suite.baseErr)
	}
	return suite.base
}

// newRig is a rig of the test's own (its own simulator and profile) on the
// project's LXD, sharing the base rig's runner image; it goes when the test
// ends.
func newRig(t *testing.T, sim rig.Options) *rig.Rig {
	t.Helper()
	base := baseRig(t)
	sim.Socket, sim.BaseImage, sim.From = base.Socket(), lxdtest.Image(), base
	if sim.Name == "" {
		sim.Name = "chaos"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := rig.New(ctx, sim)
	if err != nil {
		t.Fatalf("cannot set up the test's rig: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("cannot tear the rig down: %v", err)
		}
	})
	return r
}

// unit is a fresh unit of r whose instances and GitHub runners go when the
// test ends.
func unit(t *testing.T, r *rig.Rig, prefix string) rig.Unit {
	t.Helper()
	u, err := r.NewUnit(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := r.Clean(ctx, u); err != nil {
			t.Errorf("cannot clean up %s: %v", u.Name, err)
		}
	})
	return u
}

// charmBuild is the packed charm and hook tools, built once.
func charmBuild(t *testing.T) rig.CharmBuild {
	t.Helper()
	suite.charmOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		suite.charmDir, suite.charmErr = os.MkdirTemp("", "chaos-build-")
		if suite.charmErr != nil {
			return
		}
		suite.charm, suite.charmErr = rig.BuildCharm(ctx, suite.charmDir)
		if suite.charmErr != nil {
			return
		}
		suite.cli, suite.charmErr = rig.Build(ctx, filepath.Join(suite.charmDir, "github-runner"), jujutest.CharmPackage)
	})
	if suite.charmErr != nil {
		t.Fatalf("cannot build the charm: %v", suite.charmErr)
	}
	return suite.charm
}

// charmCLI is the charm's binary, to run its command line; built once.
func charmCLI(t *testing.T) string {
	t.Helper()
	charmBuild(t)
	return suite.cli
}

// deadline is a context for one test, bounded by d.
func deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
