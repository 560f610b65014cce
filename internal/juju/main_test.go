package juju_test

import (
	"context"
	"os"
	"testing"
	"time"

	"charm.example/github-runner/internal/juju"
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

func startSim(t *testing.T, opts jujutest.Options) *jujutest.Sim {
	t.Helper()
	opts.CharmDir = "testdata/charm"
	opts.Tools = builds.Tools
	return jujutest.Start(t, opts)
}

// inContext runs fn with a Client on the real hook tools, in a hook
// context (path hooks/<name>) or action context (actions/<name>) of s.
func inContext(t *testing.T, s *jujutest.Sim, path string, params map[string]any, fn func(ctx context.Context, c *juju.Client) error) jujutest.Run {
	t.Helper()
	ctx := testContext(t)
	r, err := s.InContext(ctx, path, params, func(env []string) error {
		return fn(ctx, juju.NewClient(juju.ExecRunner{Env: env}, juju.ParseEnv(env)))
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
