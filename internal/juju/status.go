package juju

import (
	"context"
	"errors"
	"fmt"
)

// StatusCode is a workload status.
type StatusCode string

// Workload statuses. A charm sets the first four; Juju shows the others.
const (
	StatusMaintenance StatusCode = "maintenance"
	StatusBlocked     StatusCode = "blocked"
	StatusWaiting     StatusCode = "waiting"
	StatusActive      StatusCode = "active"
	StatusError       StatusCode = "error"
	StatusUnknown     StatusCode = "unknown"
)

// Settable says whether a charm may set c with status-set.
func (c StatusCode) Settable() bool {
	switch c {
	case StatusMaintenance, StatusBlocked, StatusWaiting, StatusActive:
		return true
	}
	return false
}

// Status is a workload status and its message.
type Status struct {
	Code    StatusCode
	Message string
}

// String is "code: message", or the code alone.
func (s Status) String() string {
	if s.Message == "" {
		return string(s.Code)
	}
	return string(s.Code) + ": " + s.Message
}

// Active is an active status with msg.
func Active(msg string) Status { return Status{Code: StatusActive, Message: msg} }

// Blocked is a blocked status with msg: the operator must act.
func Blocked(msg string) Status { return Status{Code: StatusBlocked, Message: msg} }

// Waiting is a waiting status with msg: waiting on something outside the unit.
func Waiting(msg string) Status { return Status{Code: StatusWaiting, Message: msg} }

// Maintenance is a maintenance status with msg: the unit is busy.
func Maintenance(msg string) Status { return Status{Code: StatusMaintenance, Message: msg} }

// ErrInvalidStatus is returned, before any tool runs, for a status a
// charm cannot set.
var ErrInvalidStatus = errors.New("invalid status")

// SetStatus sets this unit's workload status.
func (c *Client) SetStatus(ctx context.Context, s Status) error {
	return c.setStatus(ctx, s, false)
}

// SetApplicationStatus sets the application's status; only the leader may
// (ErrNotLeader otherwise).
func (c *Client) SetApplicationStatus(ctx context.Context, s Status) error {
	return c.setStatus(ctx, s, true)
}

func (c *Client) setStatus(ctx context.Context, s Status, app bool) error {
	if !s.Code.Settable() {
		return fmt.Errorf("%w %q: want maintenance, blocked, waiting or active", ErrInvalidStatus, s.Code)
	}
	var args []string
	if app {
		args = append(args, "--application")
	}
	args = append(args, "--", string(s.Code), s.Message)
	_, err := c.run(ctx, "status-set", args, nil)
	return err
}

type statusDetails struct {
	Status  StatusCode               `json:"status"`
	Message string                   `json:"message"`
	Units   map[string]statusDetails `json:"units"`
}

// Status is this unit's workload status as the charm last set it.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var d statusDetails
	if err := c.runJSON(ctx, "status-get", []string{"--include-data"}, &d); err != nil {
		return Status{}, err
	}
	return Status{Code: d.Status, Message: d.Message}, nil
}

// ApplicationStatus is the application's status and its units'; only the
// leader may ask (ErrNotLeader otherwise).
func (c *Client) ApplicationStatus(ctx context.Context) (Status, map[string]Status, error) {
	var d struct {
		App statusDetails `json:"application-status"`
	}
	if err := c.runJSON(ctx, "status-get", []string{"--application", "--include-data"}, &d); err != nil {
		return Status{}, nil, err
	}
	units := make(map[string]Status, len(d.App.Units))
	for name, u := range d.App.Units {
		units[name] = Status{Code: u.Status, Message: u.Message}
	}
	return Status{Code: d.App.Status, Message: d.App.Message}, units, nil
}
