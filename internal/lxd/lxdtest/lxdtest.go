// Package lxdtest gives tests the project's real LXD daemon: its socket, the
// busybox test image (fast), the Debian test image (realistic: systemd,
// apt, sudo, a user ubuntu), storage pools and proxy profiles of a test's
// own, and names that do not collide between tests or runs.
//
// The daemon and the busybox image come from scripts/lxd-up.sh (make
// lxd-up), the Debian image from scripts/debian-image.sh (make
// debian-image); make test runs both. Outside CI a test that cannot have
// what it needs is skipped with a message saying how to get it; under
// CI=true it fails, so a missing daemon or image cannot pass quietly.
package lxdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// DefaultDir is the LXD_DIR scripts/lxd-up.sh uses unless TEST_LXD_DIR is set.
const DefaultDir = "/var/lib/github-runner-test-lxd"

// DefaultImage is the alias of the busybox test image unless TEST_LXD_IMAGE is set.
const DefaultImage = "github-runner-test-busybox"

// DefaultDebianImage is the alias of the Debian test image unless
// TEST_LXD_DEBIAN_IMAGE is set (scripts/debian-image.sh reads the same).
const DefaultDebianImage = "github-runner-test-debian"

// Dir is the test daemon's LXD_DIR.
func Dir() string {
	if d := os.Getenv("TEST_LXD_DIR"); d != "" {
		return d
	}
	return DefaultDir
}

// SocketPath is the test daemon's unix socket.
func SocketPath() string { return filepath.Join(Dir(), "unix.socket") }

// Image is the alias of the busybox test image.
func Image() string {
	if img := os.Getenv("TEST_LXD_IMAGE"); img != "" {
		return img
	}
	return DefaultImage
}

// DebianImageAlias is the alias of the Debian test image (see
// [DebianImage], which also checks that it is there).
func DebianImageAlias() string {
	if img := os.Getenv("TEST_LXD_DEBIAN_IMAGE"); img != "" {
		return img
	}
	return DefaultDebianImage
}

// Unavailable ends a test that cannot have something it needs (the daemon,
// an image, a program the project's scripts install): it fails under
// CI=true, where everything must be there, and is skipped elsewhere. msg
// should say how to get the missing piece.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Socket returns the socket of a daemon that answers, or ends the test:
// failing under CI, skipping elsewhere.
func Socket(t testing.TB) string {
	t.Helper()
	sock := SocketPath()
	if err := ping(sock); err != nil {
		Unavailable(t, fmt.Sprintf("the test LXD is not reachable at %s (%v); start it with `make lxd-up` (as root)", sock, err))
	}
	return sock
}

// HTTPClient returns an http.Client whose every request goes to the unix
// socket, whatever the URL's host.
func HTTPClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
}

func ping(socket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://lxd/1.0", nil)
	if err != nil {
		return err
	}
	resp, err := HTTPClient(socket).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /1.0 answered %s", resp.Status)
	}
	return nil
}

var notNameChar = regexp.MustCompile(`[^a-z0-9-]+`)

// UniqueName returns a valid LXD instance name starting with prefix (cleaned
// to lower-case letters, digits and hyphens) followed by random hex, unique
// across tests and runs. It stays under LXD's 63-character limit.
func UniqueName(prefix string) string {
	p := strings.Trim(notNameChar.ReplaceAllString(strings.ToLower(prefix), "-"), "-")
	if p == "" || (p[0] >= '0' && p[0] <= '9') {
		p = "t" + p
	}
	if len(p) > 45 {
		p = strings.TrimRight(p[:45], "-")
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return p + "-" + hex.EncodeToString(b)
}

// LoopbackProxy is the proxy device that lets an instance reach a service
// on the host's 127.0.0.1:port at the same address inside the instance (the
// instances have no network): put it in a profile of the test's own.
func LoopbackProxy(port string) map[string]string {
	addr := "tcp:127.0.0.1:" + port
	return map[string]string{"type": "proxy", "listen": addr, "connect": addr, "bind": "instance"}
}
