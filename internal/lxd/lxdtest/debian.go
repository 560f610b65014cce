package lxdtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"charm.example/github-runner/internal/lxd"
)

// DebianImage returns the alias of the Debian test image: Debian bookworm
// with systemd as init, bash, sudo, apt, ca-certificates, dbus, the GitHub
// Actions runner's libraries (libicu72, libssl3, libkrb5-3, zlib1g,
// liblttng-ust1) and a user ubuntu (uid 1000, passwordless sudo). Its apt
// package lists are empty and /etc/apt/sources.list names Debian's mirror
// over plain HTTP, so `apt-get update` inside needs a proxy (see
// [ProxyProfile] and internal/proxytest).
//
// scripts/debian-image.sh builds and imports it (make debian-image, once per
// machine); when it is missing the test ends (see [Unavailable]).
func DebianImage(t testing.TB, c *lxd.Client) string {
	t.Helper()
	alias := DebianImageAlias()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := c.GetImageAlias(ctx, alias); err != nil {
		if errors.Is(err, lxd.ErrNotFound) {
			Unavailable(t, fmt.Sprintf("the Debian test image %q is not in the test LXD; build it with `make debian-image` (as root; about a minute, once per machine)", alias))
		}
		t.Fatalf("cannot look up the Debian test image: %v", err)
	}
	return alias
}

// WaitBooted waits until systemd in the instance has finished booting, and
// returns its state: "running", or "degraded" (a unit failed; the failed
// units are written to the test's log). Any other final state, or a boot
// still going on when ctx ends, fails the test.
func WaitBooted(t testing.TB, ctx context.Context, c *lxd.Client, name string) string {
	t.Helper()
	last := "no answer"
	for {
		// --wait blocks until the boot is over; before systemd answers on
		// its bus at all, systemctl prints "offline" and exits at once.
		res, err := c.ExecInstance(ctx, name, lxd.ExecArgs{Command: []string{"systemctl", "is-system-running", "--wait"}})
		if err == nil {
			state := strings.TrimSpace(string(res.Stdout))
			switch state {
			case "running":
				return state
			case "degraded":
				failed, ferr := c.ExecInstance(ctx, name, lxd.ExecArgs{Command: []string{"systemctl", "--failed", "--no-legend", "--no-pager"}})
				if ferr == nil {
					t.Logf("instance %s booted degraded; failed units:\n%s", name, failed.Stdout)
				}
				return state
			case "maintenance", "stopping":
				t.Fatalf("instance %s did not boot: systemd is %q", name, state)
			}
			last = fmt.Sprintf("systemd state %q (%s)", state, strings.TrimSpace(string(res.Stderr)))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("instance %s did not finish booting: %v; last: %s", name, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
