package hooks_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju/jujutest"
)

// toolsBinary is the simulator's hook tools program, built once.
var toolsBinary string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hooks-tools-")
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
	return m.Run()
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// charmSurface lays out the charm's own metadata, config and actions,
// without a dispatch: the tests run the handlers in their own process.
func charmSurface(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"metadata.yaml", "config.yaml", "actions.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	return dir
}

func startSim(t *testing.T, opts jujutest.Options) *jujutest.Sim {
	t.Helper()
	opts.CharmDir = charmSurface(t)
	opts.Tools = toolsBinary
	return jujutest.Start(t, opts)
}
