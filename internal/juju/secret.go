package juju

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// SecretGet is a secret's content at its newest revision: it asks with
// --refresh, so the unit follows the owner's rotations (after
// secret-changed) instead of keeping the revision it first read. A secret
// the application was not granted gives ErrPermissionDenied; an unknown one
// ErrNotFound.
func (c *Client) SecretGet(ctx context.Context, uri string) (map[string]string, error) {
	var m map[string]string
	if err := c.runJSON(ctx, "secret-get", []string{"--refresh", "--", uri}, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// SecretValue is one key of a secret's content at its newest revision (see
// SecretGet); a missing key gives ErrNotFound.
func (c *Client) SecretValue(ctx context.Context, uri, key string) (string, error) {
	var v string
	if err := c.runJSON(ctx, "secret-get", []string{"--refresh", "--", uri, key}, &v); err != nil {
		return "", err
	}
	return v, nil
}

// SecretAddOptions are secret-add's options.
type SecretAddOptions struct {
	// Owner is "unit" or "application" (Juju's default; the leader only).
	Owner string
	// Label names the secret for SecretByLabel.
	Label string
}

// SecretAdd creates a secret with content and returns its URI. The content
// goes through a 0600 file (--file), never on a command line.
func (c *Client) SecretAdd(ctx context.Context, opts SecretAddOptions, content map[string]string) (string, error) {
	args := []string{}
	if opts.Owner != "" {
		args = append(args, "--owner", opts.Owner)
	}
	if opts.Label != "" {
		args = append(args, "--label", opts.Label)
	}
	var uri string
	err := withContentFile(content, func(path string) error {
		out, err := c.run(ctx, "secret-add", append(args, "--file", path), nil)
		uri = strings.TrimSpace(string(out))
		return err
	})
	if err != nil {
		return "", err
	}
	return uri, nil
}

// SecretSet gives one of the unit's (or, for the leader, the
// application's) secrets a new revision with content, through a 0600 file.
func (c *Client) SecretSet(ctx context.Context, uri string, content map[string]string) error {
	return withContentFile(content, func(path string) error {
		_, err := c.run(ctx, "secret-set", []string{uri, "--file", path}, nil)
		return err
	})
}

// SecretByLabel is the content of the secret with this label (the unit's
// own first); ErrNotFound when there is none.
func (c *Client) SecretByLabel(ctx context.Context, label string) (map[string]string, error) {
	var m map[string]string
	if err := c.runJSON(ctx, "secret-get", []string{"--label", label}, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// SecretRemove removes one of the unit's secrets.
func (c *Client) SecretRemove(ctx context.Context, uri string) error {
	_, err := c.run(ctx, "secret-remove", []string{uri}, nil)
	return err
}

// withContentFile writes content as YAML to a fresh 0600 file, calls f
// with its path and removes it.
func withContentFile(content map[string]string, f func(path string) error) error {
	data, err := yaml.Marshal(content)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "secret-content-")
	if err != nil {
		return fmt.Errorf("cannot write secret content: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "content.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("cannot write secret content: %w", err)
	}
	return f(path)
}
