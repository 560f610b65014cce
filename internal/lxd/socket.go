package lxd

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Well-known socket locations, probed in this order when nothing is set.
const (
	// SnapSocket is the socket of LXD installed as a snap.
	SnapSocket = "/var/snap/lxd/common/lxd/unix.socket"
	// DebianSocket is the socket of LXD installed from Debian's (or another
	// distribution's) package, LXD's historical default.
	DebianSocket = "/var/lib/lxd/unix.socket"
)

// FindSocket returns the path of the LXD unix socket to use, looking in this
// order:
//
//  1. explicit, when not empty;
//  2. the LXD_SOCKET environment variable;
//  3. $LXD_DIR/unix.socket, when LXD_DIR is set;
//  4. [SnapSocket];
//  5. [DebianSocket].
//
// The first three are settings: the first one given is the answer, and if it
// is not a socket FindSocket fails rather than fall back to another daemon.
// The last two are probed, and the first that exists as a socket wins.
//
// getenv and stat stand for os.Getenv and os.Stat (pass those in production);
// they are parameters so the search can be checked without touching the
// process environment or the file system. The error wraps [ErrNoSocket] and
// names every path tried.
func FindSocket(explicit string, getenv func(string) string, stat func(string) (fs.FileInfo, error)) (string, error) {
	var setting, path string
	switch {
	case explicit != "":
		setting, path = "the explicit socket setting", explicit
	case getenv("LXD_SOCKET") != "":
		setting, path = "LXD_SOCKET", getenv("LXD_SOCKET")
	case getenv("LXD_DIR") != "":
		setting, path = "LXD_DIR", filepath.Join(getenv("LXD_DIR"), "unix.socket")
	}
	if setting != "" {
		if err := isSocket(path, stat); err != nil {
			return "", fmt.Errorf("%w: %s (from %s): %w", ErrNoSocket, path, setting, err)
		}
		return path, nil
	}

	var tried []string
	for _, p := range []string{SnapSocket, DebianSocket} {
		err := isSocket(p, stat)
		if err == nil {
			return p, nil
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", p, err))
	}
	return "", fmt.Errorf("%w: LXD_SOCKET and LXD_DIR are unset, and none of %s is usable",
		ErrNoSocket, strings.Join(tried, ", "))
}

func isSocket(path string, stat func(string) (fs.FileInfo, error)) error {
	fi, err := stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("not a socket (mode %s)", fi.Mode())
	}
	return nil
}
