package juju

import (
	"context"
	"fmt"
)

// UnitAddress is the unit's private address (`unit-get private-address`),
// where services of the unit are reached from its model.
func (c *Client) UnitAddress(ctx context.Context) (string, error) {
	var addr string
	if err := c.runJSON(ctx, "unit-get", []string{"private-address"}, &addr); err != nil {
		return "", err
	}
	return addr, nil
}

// OpenPort opens a TCP port of the unit (`open-port <port>/tcp`), so that
// it is reachable once the application is exposed. Like state-set, it is
// kept only if the hook succeeds.
func (c *Client) OpenPort(ctx context.Context, port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("cannot open port %d: not a TCP port", port)
	}
	_, err := c.run(ctx, "open-port", []string{fmt.Sprintf("%d/tcp", port)}, nil)
	return err
}

// ClosePort closes a TCP port of the unit (`close-port <port>/tcp`).
func (c *Client) ClosePort(ctx context.Context, port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("cannot close port %d: not a TCP port", port)
	}
	_, err := c.run(ctx, "close-port", []string{fmt.Sprintf("%d/tcp", port)}, nil)
	return err
}

// OpenedPorts are the unit's open ports as opened-ports lists them, such
// as ["9464/tcp"].
func (c *Client) OpenedPorts(ctx context.Context) ([]string, error) {
	var ports []string
	if err := c.runJSON(ctx, "opened-ports", nil, &ports); err != nil {
		return nil, err
	}
	return ports, nil
}
