package e2e

import (
	"os"
	"testing"

	"charm.example/github-runner/internal/juju/jujutest"
)

// builds are the simulator's hook tools and the packed charm, built once for
// the test binary as `make charm` packs it.
var builds jujutest.Builds

func TestMain(m *testing.M) {
	os.Exit(jujutest.Main(m, jujutest.MainOptions{Charm: true}, &builds))
}
