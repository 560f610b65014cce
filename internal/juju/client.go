package juju

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Client runs Juju's hook tools for the hook context described by Env.
// It keeps no state of its own: every call asks the unit agent.
type Client struct {
	runner Runner
	env    Env
}

// NewClient returns a Client running tools through r, for env.
func NewClient(r Runner, env Env) *Client {
	return &Client{runner: r, env: env}
}

// Env is the hook's environment, as given to NewClient.
func (c *Client) Env() Env { return c.env }

func (c *Client) run(ctx context.Context, tool string, args []string, stdin []byte) ([]byte, error) {
	out, err := c.runner.Run(ctx, tool, args, stdin)
	if err != nil {
		var te *ToolError
		if errors.As(err, &te) {
			return nil, err
		}
		return nil, fmt.Errorf("cannot run %s: %w", tool, err)
	}
	return out, nil
}

// runJSON runs a tool with --format=json and decodes its output into v,
// numbers as json.Number when v holds interface values.
func (c *Client) runJSON(ctx context.Context, tool string, args []string, v any) error {
	out, err := c.run(ctx, tool, append([]string{"--format=json"}, args...), nil)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("cannot decode the output of %s: %w", tool, err)
	}
	return nil
}

// Config is the charm's configuration from `config-get --format=json`:
// every option that is set or has a default. Numbers are json.Number, so
// ints stay exact (use Int64); strings, booleans and nested values are as
// encoding/json gives them.
func (c *Client) Config(ctx context.Context) (map[string]any, error) {
	var m map[string]any
	if err := c.runJSON(ctx, "config-get", nil, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// DecodeConfig decodes the configuration into v, a pointer to a struct
// with `json:"option-name"` tags (or to a map).
func (c *Client) DecodeConfig(ctx context.Context, v any) error {
	return c.runJSON(ctx, "config-get", nil, v)
}

// IsLeader says whether this unit is the application's leader.
func (c *Client) IsLeader(ctx context.Context) (bool, error) {
	var leader bool
	if err := c.runJSON(ctx, "is-leader", nil, &leader); err != nil {
		return false, err
	}
	return leader, nil
}

// SetApplicationVersion sets the workload version `juju status` shows.
func (c *Client) SetApplicationVersion(ctx context.Context, version string) error {
	_, err := c.run(ctx, "application-version-set", []string{"--", version}, nil)
	return err
}
