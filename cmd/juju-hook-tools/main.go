// Command juju-hook-tools is the simulated hook tools of package
// internal/juju/jujutest: one program installed under the name of every tool
// (config-get, status-set, juju-log, action-get, state-set, secret-get,
// juju-exec, ...), which it reads from argv[0]. Each run is forwarded to the
// simulator over the unix socket in JUJU_AGENT_SOCKET_ADDRESS. It is a test
// program; real units get their tools from Juju.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"charm.example/github-runner/internal/juju/jujutest/hooktool"
)

func main() {
	dir, err := os.Getwd()
	if err != nil {
		dir = ""
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := hooktool.Main(ctx, os.Args, os.Getenv, dir, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
