// Command github-runner is the charm's entry binary. Packed into the charm as
// `dispatch`, Juju runs it for every hook and action with JUJU_DISPATCH_PATH
// naming the event.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "github-runner:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	event := os.Getenv("JUJU_DISPATCH_PATH")
	if event == "" {
		return fmt.Errorf("JUJU_DISPATCH_PATH is not set: not running under Juju")
	}
	return exec.CommandContext(ctx, "juju-log", "--log-level", "INFO", "--", "dispatching "+event).Run()
}
