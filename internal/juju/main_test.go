package juju_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/juju/jujutest"
)

// toolsBinary is the simulator's hook tools program, built once.
var toolsBinary string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "juju-tools-")
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

func startSim(t *testing.T, opts jujutest.Options) *jujutest.Sim {
	t.Helper()
	opts.CharmDir = "testdata/charm"
	opts.Tools = toolsBinary
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
