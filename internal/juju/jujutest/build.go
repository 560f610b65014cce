package jujutest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"charm.example/github-runner/internal/charmpack"
)

// Import paths of the programs the simulator builds.
const (
	ToolsPackage = "charm.example/github-runner/cmd/juju-hook-tools"
	CharmPackage = "charm.example/github-runner/charm"
)

// BuildTools compiles the hook tools program into dir and returns its
// path. It runs the go command, which must be on PATH, from the working
// folder, which must be inside this module (as it is under `go test`).
// Build it once per test binary (sync.Once or TestMain) and share it.
func BuildTools(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "juju-hook-tools")
	if err := goBuild(ctx, out, ToolsPackage); err != nil {
		return "", err
	}
	return out, nil
}

// BuildCharm compiles the charm's entry binary as `make build` does (static,
// CGO_ENABLED=0, for this machine's architecture) and packs it with
// charmpack into dir, returning the .charm archive's path. Like BuildTools,
// it needs the go command and a working folder inside this module.
func BuildCharm(ctx context.Context, dir string) (string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "github-runner-"+runtime.GOARCH)
	if err := goBuild(ctx, bin, CharmPackage); err != nil {
		return "", err
	}
	path, err := charmpack.Pack(charmpack.Options{SourceDir: root, Binary: bin, Arch: runtime.GOARCH, OutDir: dir})
	if err != nil {
		return "", fmt.Errorf("cannot pack the charm: %w", err)
	}
	return path, nil
}

// ModuleRoot is the folder of this module's go.mod.
func ModuleRoot(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOMOD")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot find the module: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("cannot find the module: the working folder is outside it")
	}
	return filepath.Dir(gomod), nil
}

func goBuild(ctx context.Context, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cannot build %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Builds are what a test binary built once for all its tests.
type Builds struct {
	// Tools is the hook tools program (BuildTools).
	Tools string
	// Charm is the packed charm (BuildCharm); empty unless asked for.
	Charm string
}

// MainOptions say what Main builds.
type MainOptions struct {
	// Charm also builds and packs the charm.
	Charm bool
}

// Main is a test binary's TestMain body: it builds the hook tools (and,
// with opts.Charm, the packed charm) into a temporary folder, fills builds,
// runs the tests and removes the folder. It returns the exit code for
// os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(jujutest.Main(m, jujutest.MainOptions{}, &builds)) }
func Main(m *testing.M, opts MainOptions, builds *Builds) int {
	dir, err := os.MkdirTemp("", "jujutest-build-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if builds.Tools, err = BuildTools(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if opts.Charm {
		if builds.Charm, err = BuildCharm(ctx, dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}
