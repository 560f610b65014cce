package lxd_test

import (
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
)

type fakeInfo struct{ mode fs.FileMode }

func (f fakeInfo) Name() string       { return "unix.socket" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return nil }

// fakeFS stats paths from a map: a listed path is a socket unless its mode
// says otherwise; anything else does not exist.
type fakeFS map[string]fs.FileMode

func (f fakeFS) stat(p string) (fs.FileInfo, error) {
	m, ok := f[p]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	return fakeInfo{mode: m}, nil
}

func TestFindSocket(t *testing.T) {
	t.Parallel()
	const sock = fs.ModeSocket | 0o660
	tests := []struct {
		name     string
		explicit string
		env      map[string]string
		files    fakeFS
		want     string
		wantErr  []string // substrings of the error, which must wrap ErrNoSocket
	}{{
		name:     "explicit wins over everything",
		explicit: "/run/x.socket",
		env:      map[string]string{"LXD_SOCKET": "/env/s", "LXD_DIR": "/dir"},
		files:    fakeFS{"/run/x.socket": sock, "/env/s": sock, "/dir/unix.socket": sock, lxd.SnapSocket: sock, lxd.DebianSocket: sock},
		want:     "/run/x.socket",
	}, {
		name:  "LXD_SOCKET before LXD_DIR",
		env:   map[string]string{"LXD_SOCKET": "/env/s", "LXD_DIR": "/dir"},
		files: fakeFS{"/env/s": sock, "/dir/unix.socket": sock, lxd.SnapSocket: sock},
		want:  "/env/s",
	}, {
		name:  "LXD_DIR before the well-known paths",
		env:   map[string]string{"LXD_DIR": "/dir"},
		files: fakeFS{"/dir/unix.socket": sock, lxd.SnapSocket: sock, lxd.DebianSocket: sock},
		want:  "/dir/unix.socket",
	}, {
		name:  "empty variables count as unset",
		env:   map[string]string{"LXD_SOCKET": "", "LXD_DIR": ""},
		files: fakeFS{lxd.SnapSocket: sock, lxd.DebianSocket: sock},
		want:  lxd.SnapSocket,
	}, {
		name:  "snap before Debian",
		files: fakeFS{lxd.SnapSocket: sock, lxd.DebianSocket: sock},
		want:  lxd.SnapSocket,
	}, {
		name:  "Debian when there is no snap",
		files: fakeFS{lxd.DebianSocket: sock},
		want:  lxd.DebianSocket,
	}, {
		name:  "a regular file at the snap path is skipped",
		files: fakeFS{lxd.SnapSocket: 0o644, lxd.DebianSocket: sock},
		want:  lxd.DebianSocket,
	}, {
		name:     "a missing explicit socket fails without falling back",
		explicit: "/run/missing.socket",
		files:    fakeFS{lxd.SnapSocket: sock},
		wantErr:  []string{"/run/missing.socket", "explicit"},
	}, {
		name:    "a missing LXD_SOCKET fails without falling back",
		env:     map[string]string{"LXD_SOCKET": "/env/missing"},
		files:   fakeFS{lxd.SnapSocket: sock},
		wantErr: []string{"/env/missing", "LXD_SOCKET"},
	}, {
		name:    "LXD_DIR without a socket fails",
		env:     map[string]string{"LXD_DIR": "/dir"},
		files:   fakeFS{"/dir/unix.socket": 0o644, lxd.SnapSocket: sock},
		wantErr: []string{"/dir/unix.socket", "LXD_DIR", "not a socket"},
	}, {
		name:    "nothing found names every path tried",
		files:   fakeFS{lxd.DebianSocket: fs.ModeDir | 0o755},
		wantErr: []string{"LXD_SOCKET", "LXD_DIR", lxd.SnapSocket, lxd.DebianSocket, "not a socket"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string { return tt.env[k] }
			got, err := lxd.FindSocket(tt.explicit, getenv, tt.files.stat)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, lxd.ErrNoSocket)
				for _, s := range tt.wantErr {
					require.ErrorContains(t, err, s)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestNewChecksSocket(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := dir + "/not-a-socket"
	require.NoError(t, os.WriteFile(file, nil, 0o600))

	_, err := lxd.New(lxd.Options{Socket: file})
	require.ErrorIs(t, err, lxd.ErrNoSocket)

	_, err = lxd.New(lxd.Options{Socket: dir + "/missing"})
	require.ErrorIs(t, err, lxd.ErrNoSocket)
	require.True(t, errors.Is(err, fs.ErrNotExist), "the stat error is kept: %v", err)
}
