package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"charm.example/github-runner/internal/juju/jujutest"
)

// Built once for the test binary: the simulator's hook tools and the charm
// packed from a fresh static build of ./charm, as `make charm` packs it.
var toolsBinary, charmArchive string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if toolsBinary, err = jujutest.BuildTools(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if charmArchive, err = jujutest.BuildCharm(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
