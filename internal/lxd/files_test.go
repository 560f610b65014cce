package lxd_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
)

// unsizedReader hides its length, so the body is sent chunked.
type unsizedReader struct{ r io.Reader }

func (u unsizedReader) Read(p []byte) (int, error) { return u.r.Read(p) }

func TestFiles(t *testing.T) {
	t.Parallel()
	c := connect(t)
	name := launch(t, c, "files")
	ctx := testCtx(t, time.Minute)

	binary := make([]byte, 0, 256+64<<10)
	for i := range 256 {
		binary = append(binary, byte(i))
	}
	random := make([]byte, 64<<10)
	_, _ = rand.Read(random)
	binary = append(binary, random...)

	// The user's secrets folder, made inside the instance.
	mustExec(t, c, name, lxd.ExecArgs{Command: []string{"sh", "-c", "mkdir -p /home/ubuntu/secrets && chown 1000:1000 /home/ubuntu/secrets && chmod 0700 /home/ubuntu/secrets"}})

	tests := []struct {
		name     string
		path     string
		content  []byte
		reader   func([]byte) io.Reader
		uid, gid int64
		mode     fs.FileMode
		wantMode fs.FileMode
	}{{
		name: "secret file 0600 owned by the user", path: "/home/ubuntu/secrets/token",
		content: []byte("ghs_notarealtoken\n"), uid: 1000, gid: 1000, mode: 0o600, wantMode: 0o600,
	}, {
		name: "binary file", path: "/tmp/binary",
		content: binary, mode: 0o644, wantMode: 0o644,
	}, {
		name: "binary file sent chunked", path: "/tmp/chunked",
		content: binary, reader: func(b []byte) io.Reader { return unsizedReader{bytes.NewReader(b)} },
		mode: 0o640, wantMode: 0o640,
	}, {
		name: "empty file", path: "/tmp/empty",
		content: []byte{}, mode: 0o600, wantMode: 0o600,
	}, {
		name: "nil content is an empty file", path: "/tmp/nil",
		reader: func([]byte) io.Reader { return nil }, mode: 0o755, wantMode: 0o755,
	}, {
		name: "default mode", path: "/tmp/default-mode",
		content: []byte("x"), wantMode: 0o644,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(tt.content)
			if tt.reader != nil {
				body = tt.reader(tt.content)
			}
			require.NoError(t, c.CreateInstanceFile(ctx, name, tt.path, lxd.InstanceFileArgs{
				Content: body, UID: tt.uid, GID: tt.gid, Mode: tt.mode,
			}))
			got, info := readFile(t, c, name, tt.path)
			require.True(t, bytes.Equal(tt.content, got), "read back %d bytes, pushed %d", len(got), len(tt.content))
			require.Equal(t, "file", info.Type)
			require.Equal(t, tt.wantMode, info.Mode)
			require.Equal(t, tt.uid, info.UID)
			require.Equal(t, tt.gid, info.GID)

			// The instance sees the same (LXD's headers are not the only witness).
			stat := mustExec(t, c, name, lxd.ExecArgs{Command: []string{"stat", "-c", "%s %a %u %g", tt.path}})
			want := fmt.Sprintf("%d %o %d %d", len(tt.content), tt.wantMode, tt.uid, tt.gid)
			require.Equal(t, want, strings.TrimSpace(stat))
		})
	}

	// The user can read its secret; other users cannot.
	out := mustExec(t, c, name, lxd.ExecArgs{Command: []string{"cat", "/home/ubuntu/secrets/token"}, User: 1000, Group: 1000})
	require.Equal(t, "ghs_notarealtoken\n", out)
	res, err := c.ExecInstance(ctx, name, lxd.ExecArgs{Command: []string{"cat", "/home/ubuntu/secrets/token"}, User: 2000, Group: 2000})
	require.NoError(t, err)
	require.NotEqual(t, 0, res.ExitCode)

	// Overwriting replaces the whole content, and (unlike LXD's own write
	// into an existing file) applies the new owner and mode.
	require.NoError(t, c.CreateInstanceFile(ctx, name, "/tmp/binary", lxd.InstanceFileArgs{Content: strings.NewReader("short"), UID: 1000, GID: 1000, Mode: 0o600}))
	got, info := readFile(t, c, name, "/tmp/binary")
	require.Equal(t, "short", string(got))
	require.Equal(t, fs.FileMode(0o600), info.Mode)
	require.Equal(t, int64(1000), info.UID)
	require.Equal(t, int64(1000), info.GID)
	require.NoError(t, c.CreateInstanceFile(ctx, name, "/tmp/binary", lxd.InstanceFileArgs{Content: strings.NewReader("s"), UID: 1000, GID: 1000, Mode: 0o600}))
	got, _ = readFile(t, c, name, "/tmp/binary")
	require.Equal(t, "s", string(got), "same owner and mode: written in place")
	require.ErrorContains(t, c.CreateInstanceFile(ctx, name, "/home/ubuntu/secrets", lxd.InstanceFileArgs{}), "is a directory")

	// Directories list their entries.
	_, info = readFile(t, c, name, "/home/ubuntu/secrets")
	require.Equal(t, "directory", info.Type)
	require.Equal(t, fs.FileMode(0o700), info.Mode)
	require.Equal(t, int64(1000), info.UID)
	require.Equal(t, []string{"token"}, info.Entries)

	// Deletion, and the errors.
	require.NoError(t, c.DeleteInstanceFile(ctx, name, "/tmp/empty"))
	_, _, err = c.GetInstanceFile(ctx, name, "/tmp/empty")
	require.ErrorIs(t, err, lxd.ErrNotFound)
	require.ErrorIs(t, c.DeleteInstanceFile(ctx, name, "/tmp/empty"), lxd.ErrNotFound)
	err = c.CreateInstanceFile(ctx, name, "/no/such/dir/file", lxd.InstanceFileArgs{Content: strings.NewReader("x")})
	require.ErrorIs(t, err, lxd.ErrNotFound)
	require.ErrorContains(t, c.CreateInstanceFile(ctx, name, "relative", lxd.InstanceFileArgs{}), "not absolute")
}

func TestFilesOnStoppedInstance(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, time.Minute)
	req := newInstance(t, c, "files-stopped")
	op, err := c.CreateInstance(ctx, req)
	require.NoError(t, err)
	require.NoError(t, op.Wait(ctx))

	require.NoError(t, c.CreateInstanceFile(ctx, req.Name, "/etc/runner.conf", lxd.InstanceFileArgs{Content: strings.NewReader("k=v\n"), Mode: 0o600}))
	require.NoError(t, c.StartInstance(ctx, req.Name))
	require.Equal(t, "k=v\n", mustExec(t, c, req.Name, lxd.ExecArgs{Command: []string{"cat", "/etc/runner.conf"}}))
}
