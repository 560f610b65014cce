package juju

import "context"

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
