package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/pool"
)

// lxdInstallTimeout bounds installing and initialising LXD.
const lxdInstallTimeout = 20 * time.Minute

// ensureLXD makes sure the machine has an LXD to talk to. With a socket
// (the lxd-socket option), that socket must exist (a *config.Error
// otherwise). Without it, the
// socket is discovered; when there is none and snapd is present, LXD is
// installed from the snap store and initialised with defaults
// (`snap install lxd`, `lxd waitready`, `lxd init --auto`); without snapd
// the unit is blocked with instructions.
func (c *Charm) ensureLXD(ctx context.Context, ev Event, socket string) error {
	_, err := lxd.FindSocket(socket, os.Getenv, os.Stat)
	if err == nil {
		return nil
	}
	if socket != "" || !errors.Is(err, lxd.ErrNoSocket) {
		return pool.NoLXDError(pool.Settings{LXDSocket: socket}, err)
	}
	snap, lerr := exec.LookPath("snap")
	if lerr != nil {
		return &pool.BlockedError{Message: "LXD not found and snapd is not installed: install LXD (or snapd) on the machine, or set lxd-socket", Err: err}
	}
	if err := ev.Juju.SetStatus(ctx, juju.Maintenance("installing LXD (snap install lxd)")); err != nil {
		return err
	}
	ev.Log.Info("LXD not found; installing it from the snap store")
	ctx, cancel := context.WithTimeout(ctx, lxdInstallTimeout)
	defer cancel()
	if err := runCommand(ctx, snap, "install", "lxd"); err != nil {
		return err
	}
	lxdBin, err := exec.LookPath("lxd")
	if err != nil {
		lxdBin = filepath.Join("/snap/bin", "lxd")
	}
	if err := runCommand(ctx, lxdBin, "waitready", "--timeout=600"); err != nil {
		return err
	}
	if err := ev.Juju.SetStatus(ctx, juju.Maintenance("initialising LXD (lxd init --auto)")); err != nil {
		return err
	}
	if err := runCommand(ctx, lxdBin, "init", "--auto"); err != nil {
		return err
	}
	if _, err := lxd.FindSocket("", os.Getenv, os.Stat); err != nil {
		return fmt.Errorf("LXD was installed but its socket is missing: %w", err)
	}
	ev.Log.Info("LXD installed and initialised")
	return nil
}

// runCommand runs a program to its end; a failure carries the last lines
// of its output.
func runCommand(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = nil
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, tail(out.String(), 5))
	}
	return nil
}

// tail is the last n lines of s, joined with " | ".
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
