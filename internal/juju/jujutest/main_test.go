package jujutest_test

import (
	"os"
	"testing"

	"charm.example/github-runner/internal/juju/jujutest"
)

// builds are the simulator's hook tools (and the packed charm), built once.
var builds jujutest.Builds

func TestMain(m *testing.M) {
	os.Exit(jujutest.Main(m, jujutest.MainOptions{Charm: false}, &builds))
}
