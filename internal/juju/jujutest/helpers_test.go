package jujutest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju/jujutest"
)

const testMetadata = `name: testcharm
summary: a charm for testing the simulator
description: a charm for testing the simulator
provides:
  cos-agent:
    interface: cos_agent
    limit: 1
requires:
  db:
    interface: pgsql
peers:
  replicas:
    interface: testcharm-peers
`

const testConfig = `options:
  name:
    type: string
    default: "x"
    description: a string
  count:
    type: int
    default: 3
    description: an int
  ratio:
    type: float
    default: 1.5
    description: a float
  enabled:
    type: boolean
    default: false
    description: a boolean
  nodefault:
    type: string
    description: a string without default
`

const testActions = `greet:
  description: say hello
  params:
    who:
      type: string
      default: world
      description: whom to greet
    loud:
      type: boolean
      default: false
      description: shout
  additionalProperties: false
fail:
  description: a failing action
  additionalProperties: false
`

// writeCharm writes a charm folder whose dispatch is the given sh script;
// an empty script means no dispatch at all.
func writeCharm(t *testing.T, dispatch string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"metadata.yaml": testMetadata,
		"config.yaml":   testConfig,
		"actions.yaml":  testActions,
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	if dispatch != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "dispatch"), []byte("#!/bin/sh\n"+dispatch), 0o755))
	}
	return dir
}

// startSim starts a simulated unit of the test charm.
func startSim(t *testing.T, dispatch string, opts jujutest.Options) *jujutest.Sim {
	t.Helper()
	opts.CharmDir = writeCharm(t, dispatch)
	opts.Tools = builds.Tools
	return jujutest.Start(t, opts)
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// toolRun is one run of a hook tool.
type toolRun struct {
	code           int
	stdout, stderr string
}

// runTool runs a tool from the simulator's tools folder with env.
func runTool(ctx context.Context, s *jujutest.Sim, env []string, stdin string, name string, args ...string) (toolRun, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.ToolsDir(), name), args...)
	cmd.Env = env
	cmd.Dir = s.CharmDir()
	cmd.Stdin = bytes.NewBufferString(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return toolRun{0, stdout.String(), stderr.String()}, nil
	case errors.As(err, &ee):
		return toolRun{ee.ExitCode(), stdout.String(), stderr.String()}, nil
	}
	return toolRun{}, err
}
