package hooks_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju/jujutest"
)

// builds are the simulator's hook tools (and the packed charm), built once.
var builds jujutest.Builds

func TestMain(m *testing.M) {
	os.Exit(jujutest.Main(m, jujutest.MainOptions{Charm: false}, &builds))
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
	opts.Tools = builds.Tools
	return jujutest.Start(t, opts)
}
