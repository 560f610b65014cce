package juju

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrEmptyStateKey is returned by StateSet for an empty key.
var ErrEmptyStateKey = errors.New("empty charm state key")

// State is the unit's charm state: a map of strings kept by the
// controller. Within a hook it includes the hook's own writes; they are
// kept only if the hook succeeds.
func (c *Client) State(ctx context.Context) (map[string]string, error) {
	var m map[string]string
	if err := c.runJSON(ctx, "state-get", nil, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]string{}
	}
	return m, nil
}

// StateGet is one value of the charm state; "" when the key is absent.
func (c *Client) StateGet(ctx context.Context, key string) (string, error) {
	var v string
	if err := c.runJSON(ctx, "state-get", []string{"--", key}, &v); err != nil {
		return "", err
	}
	return v, nil
}

// StateSet stores values in the charm state. They go to state-set as a
// YAML map on standard input (`--file -`), so any value, white space, `=`
// and new lines included, is stored exactly, and none appears in argv.
// Juju limits keys to 256 bytes and values to 64 KiB.
func (c *Client) StateSet(ctx context.Context, values map[string]string) error {
	if len(values) == 0 {
		return nil
	}
	for k := range values {
		if k == "" {
			return ErrEmptyStateKey
		}
	}
	// JSON is YAML: a map of double-quoted strings.
	doc, err := json.Marshal(values)
	if err != nil {
		return fmt.Errorf("cannot encode charm state: %w", err)
	}
	_, err = c.run(ctx, "state-set", []string{"--file", "-"}, doc)
	return err
}

// StateDelete removes a key from the charm state; an absent key is fine.
func (c *Client) StateDelete(ctx context.Context, key string) error {
	_, err := c.run(ctx, "state-delete", []string{"--", key}, nil)
	return err
}
