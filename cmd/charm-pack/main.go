// Command charm-pack packs the built charm binary and the charm's YAML files
// into a .charm archive that `juju deploy` accepts.
package main

import (
	"flag"
	"fmt"
	"os"

	"charm.example/github-runner/internal/charmpack"
)

func main() {
	var opts charmpack.Options
	flag.StringVar(&opts.SourceDir, "source", ".", "folder holding metadata.yaml, config.yaml, actions.yaml and LICENSE")
	flag.StringVar(&opts.Binary, "binary", "", "the charm's static entry binary (becomes dispatch)")
	flag.StringVar(&opts.Arch, "arch", "amd64", "architecture the binary was built for: amd64 or arm64")
	flag.StringVar(&opts.OutDir, "out", ".", "folder to write the .charm file to")
	flag.Parse()
	if opts.Binary == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	path, err := charmpack.Pack(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "charm-pack:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
