package jujutest_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"charm.example/github-runner/internal/juju/jujutest"
)

// toolsBinary is the hook tools program, built once for this test binary.
var toolsBinary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "jujutest-tools-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	toolsBinary, err = jujutest.BuildTools(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
