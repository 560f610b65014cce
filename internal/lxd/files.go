package lxd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// InstanceFileArgs describes a file to create in an instance.
type InstanceFileArgs struct {
	// Content is the file's content; nil makes an empty file. It is sent
	// as is (binary-safe) and never logged.
	Content io.Reader
	// UID and GID own the file, as seen inside the instance (0: root).
	UID int64
	GID int64
	// Mode holds the permission bits (only Mode.Perm() counts, such as
	// 0600). Zero means 0644.
	Mode fs.FileMode
}

// InstanceFileInfo describes a file read by [Client.GetInstanceFile].
type InstanceFileInfo struct {
	// Type is "file", "directory" or "symlink".
	Type string
	UID  int64
	GID  int64
	// Mode holds the permission bits.
	Mode fs.FileMode
	// Entries lists a directory's entry names (Type "directory" only).
	Entries []string
}

// CreateInstanceFile writes a file in an instance, with exactly the given
// owner and mode, replacing any file already there. The parent directory
// must exist. The instance may be stopped.
//
// Two LXD 5.0 traps are handled here. The body goes as
// application/octet-stream: sent form-encoded, LXD answers success yet
// writes an empty file. And LXD writes into an existing file keeping its
// owner and mode, which would leave a secret pushed over a world-readable
// file readable: an existing file whose owner or mode differ is deleted
// first, so the content only ever lands in a file with the wanted ones.
func (c *Client) CreateInstanceFile(ctx context.Context, name, path string, args InstanceFileArgs) error {
	if err := checkAbs(path); err != nil {
		return fmt.Errorf("cannot write file in instance %q: %w", name, err)
	}
	if args.Mode.Perm() == 0 {
		args.Mode = 0o644
	}
	if err := c.clearForFile(ctx, name, path, args); err != nil {
		return fmt.Errorf("cannot write file %s in instance %q: %w", path, name, err)
	}
	body := args.Content
	if body == nil {
		body = strings.NewReader("")
	}
	r := request{method: http.MethodPost, path: instancePath(name) + "/files", query: url.Values{"path": {path}}, raw: body, header: fileHeaders(args)}
	if _, err := c.query(ctx, r, nil); err != nil {
		return fmt.Errorf("cannot write file %s in instance %q: %w", path, name, err)
	}
	return nil
}

// clearForFile deletes what is at path unless it is a file LXD may write
// into: one with the wanted owner and mode.
func (c *Client) clearForFile(ctx context.Context, name, path string, args InstanceFileArgs) error {
	resp, err := c.send(ctx, request{method: http.MethodHead, path: instancePath(name) + "/files", query: url.Values{"path": {path}}})
	var se *StatusError
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case errors.As(err, &se):
		// A daemon without HEAD on files (no instance_file_head), or a
		// HEAD that failed (LXD 5.0 has been seen to answer a bodiless 500
		// on a stopped instance): delete whatever is there.
		if err := c.DeleteInstanceFile(ctx, name, path); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return nil
	case err != nil:
		return err
	}
	drain(resp.Body)
	info, err := parseFileHeaders(resp.Header)
	if err != nil {
		return err
	}
	switch {
	case info.Type == "directory":
		return fmt.Errorf("%s is a directory", path)
	case info.Type == "file" && info.Mode == args.Mode.Perm() && info.UID == args.UID && info.GID == args.GID:
		return nil
	}
	if err := c.DeleteInstanceFile(ctx, name, path); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// GetInstanceFile reads a file from an instance. For a file (or a symlink,
// whose content is its target) it returns the content, which the caller must
// close; for a directory the content is empty and info.Entries lists it. A
// missing file is an error matching [ErrNotFound].
func (c *Client) GetInstanceFile(ctx context.Context, name, path string) (io.ReadCloser, *InstanceFileInfo, error) {
	if err := checkAbs(path); err != nil {
		return nil, nil, fmt.Errorf("cannot read file in instance %q: %w", name, err)
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: instancePath(name) + "/files", query: url.Values{"path": {path}}})
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read file %s in instance %q: %w", path, name, err)
	}
	info, err := parseFileHeaders(resp.Header)
	if err != nil {
		drain(resp.Body)
		return nil, nil, fmt.Errorf("cannot read file %s in instance %q: %w", path, name, err)
	}
	if info.Type != "directory" {
		return resp.Body, info, nil
	}
	defer drain(resp.Body)
	var env response
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxEnvelope)).Decode(&env); err != nil {
		return nil, nil, fmt.Errorf("cannot read directory %s in instance %q: %w", path, name, err)
	}
	if err := json.Unmarshal(env.Metadata, &info.Entries); err != nil {
		return nil, nil, fmt.Errorf("cannot read directory %s in instance %q: %w", path, name, err)
	}
	return io.NopCloser(strings.NewReader("")), info, nil
}

// DeleteInstanceFile removes a file or an empty directory from an instance.
// A missing file is an error matching [ErrNotFound].
func (c *Client) DeleteInstanceFile(ctx context.Context, name, path string) error {
	if err := checkAbs(path); err != nil {
		return fmt.Errorf("cannot delete file in instance %q: %w", name, err)
	}
	if _, err := c.query(ctx, request{method: http.MethodDelete, path: instancePath(name) + "/files", query: url.Values{"path": {path}}}, nil); err != nil {
		return fmt.Errorf("cannot delete file %s in instance %q: %w", path, name, err)
	}
	return nil
}

func checkAbs(path string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("path %q is not absolute", path)
	}
	return nil
}

func fileHeaders(args InstanceFileArgs) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-LXD-type", "file")
	h.Set("X-LXD-uid", strconv.FormatInt(args.UID, 10))
	h.Set("X-LXD-gid", strconv.FormatInt(args.GID, 10))
	if args.Mode.Perm() != 0 {
		h.Set("X-LXD-mode", fmt.Sprintf("%04o", uint32(args.Mode.Perm())))
	}
	h.Set("X-LXD-write", "overwrite")
	return h
}

func parseFileHeaders(h http.Header) (*InstanceFileInfo, error) {
	info := &InstanceFileInfo{Type: h.Get("X-LXD-type")}
	var err error
	if v := h.Get("X-LXD-uid"); v != "" {
		if info.UID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, fmt.Errorf("bad X-LXD-uid %q", v)
		}
	}
	if v := h.Get("X-LXD-gid"); v != "" {
		if info.GID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, fmt.Errorf("bad X-LXD-gid %q", v)
		}
	}
	if v := h.Get("X-LXD-mode"); v != "" {
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil {
			return nil, fmt.Errorf("bad X-LXD-mode %q", v)
		}
		info.Mode = fs.FileMode(m).Perm()
	}
	return info, nil
}
