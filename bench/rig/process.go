package rig

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"charm.example/github-runner/internal/cli"
)

// Build compiles pkg to the file out as `make build` compiles the charm
// (static, -trimpath, stripped) and returns out. It runs the go command
// from the working folder, which must be inside this module.
func Build(ctx context.Context, out, pkg string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("cannot build %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// CLICmd is the charm binary's command line reconciling u to want runners
// on the rig (`github-runner reconcile`, with flags that mirror the charm's
// options as CharmConfig sets them); extra flags follow. The token goes in
// the environment. Call LendImage first, or the command builds u an image
// of its own.
func (r *Rig) CLICmd(ctx context.Context, bin string, u Unit, want int, extra ...string) *exec.Cmd {
	args := []string{"reconcile",
		"--app", u.App, "--unit", u.Name, "--model", u.Model, "--state-dir", u.StateDir,
		"--path", r.Org, "--github-api-url", r.Sim.URL(),
		"--lxd-socket", r.socket, "--lxd-profiles", r.Profile,
		"--base-image", r.baseImage, "--image-packages", "", "--instance-type", "container",
		"--virtual-machines", strconv.Itoa(want),
		"--vm-cpu", strconv.Itoa(Resources.CPU), "--vm-memory", "256MiB", "--vm-disk", "1GiB",
		"--labels", "rig", "--bootstrap-timeout", "1", "--format", "json",
	}
	cmd := exec.CommandContext(ctx, bin, append(args, extra...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), cli.EnvName("token") + "=" + r.token}
	return cmd
}
