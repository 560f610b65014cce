package lxd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"
)

// GetInstance returns an instance with its live state (State is set).
func (c *Client) GetInstance(ctx context.Context, name string) (*Instance, error) {
	var inst Instance
	q := url.Values{"recursion": {"1"}} // with instance_get_full: state included
	if _, err := c.query(ctx, request{method: http.MethodGet, path: instancePath(name), query: q}, &inst); err != nil {
		return nil, fmt.Errorf("cannot get instance %q: %w", name, err)
	}
	if inst.State == nil {
		// A daemon without instance_get_full: read the state on its own.
		var st InstanceState
		if _, err := c.query(ctx, request{method: http.MethodGet, path: instancePath(name) + "/state"}, &st); err != nil {
			return nil, fmt.Errorf("cannot get state of instance %q: %w", name, err)
		}
		inst.State = &st
	}
	return &inst, nil
}

// InstanceFilter selects instances in [Client.GetInstances]. The zero value
// selects every instance.
type InstanceFilter struct {
	// Config holds keys (typically "user.*" ownership tags) and the exact
	// values an instance's own config must have for each. Keys coming only
	// from profiles (the expanded config) do not count.
	Config map[string]string
	// Type, when not empty, keeps only instances of that type.
	Type InstanceType
}

// Match reports whether inst passes the filter.
func (f InstanceFilter) Match(inst *Instance) bool {
	if f.Type != "" && inst.Type != f.Type {
		return false
	}
	for k, want := range f.Config {
		got, ok := inst.Config[k]
		if !ok || got != want {
			return false
		}
	}
	return true
}

// GetInstances returns the instances that match filter, each with its full
// config and live state (State is set). LXD 5.0 cannot filter on config keys
// itself, so every instance of the project is fetched and filtered here.
func (c *Client) GetInstances(ctx context.Context, filter InstanceFilter) ([]Instance, error) {
	var all []Instance
	q := url.Values{"recursion": {"2"}}
	if _, err := c.query(ctx, request{method: http.MethodGet, path: "/1.0/instances", query: q}, &all); err != nil {
		return nil, fmt.Errorf("cannot list instances: %w", err)
	}
	out := all[:0]
	for i := range all {
		if filter.Match(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// CreateInstance starts creating an instance. The instance is not started
// (LXD 5.0 ignores a start request in the creation): see
// [Client.LaunchInstance]. Creating over an existing name fails, on
// [Operation.Wait], with an error matching [ErrConflict].
func (c *Client) CreateInstance(ctx context.Context, req InstancesPost) (*Operation, error) {
	if req.Name == "" {
		return nil, errors.New("cannot create an instance without a name")
	}
	if req.Type == "" {
		req.Type = InstanceTypeContainer
	}
	op, err := c.queryOperation(ctx, request{method: http.MethodPost, path: "/1.0/instances", body: req})
	if err != nil {
		return nil, fmt.Errorf("cannot create instance %q: %w", req.Name, err)
	}
	// LXD 5.0 reports a duplicate name as a plain failure of the creation:
	// a failed creation whose instance exists is a conflict.
	op.classify = func(ctx context.Context, e *OperationError) {
		if ok, err := c.instanceExists(ctx, req.Name); err == nil && ok {
			e.kind = ErrConflict
		}
	}
	return op, nil
}

// UpdateInstanceState starts, stops, restarts, freezes or unfreezes an
// instance.
func (c *Client) UpdateInstanceState(ctx context.Context, name string, req InstanceStatePut) (*Operation, error) {
	op, err := c.queryOperation(ctx, request{method: http.MethodPut, path: instancePath(name) + "/state", body: req})
	if err != nil {
		return nil, fmt.Errorf("cannot %s instance %q: %w", req.Action, name, err)
	}
	return op, nil
}

// DeleteInstance starts deleting an instance, which must be stopped. A
// missing instance is an error matching [ErrNotFound]; see
// [Client.RemoveInstance] for the idempotent form.
func (c *Client) DeleteInstance(ctx context.Context, name string) (*Operation, error) {
	op, err := c.queryOperation(ctx, request{method: http.MethodDelete, path: instancePath(name)})
	if err != nil {
		return nil, fmt.Errorf("cannot delete instance %q: %w", name, err)
	}
	return op, nil
}

// LaunchInstance creates an instance and starts it, waiting for both. If the
// start fails, the new instance is removed again (best effort, bounded by 30
// seconds even when ctx has ended) so no half-launched instance lingers. An
// existing instance of that name fails the call with an error matching
// [ErrConflict] and is left alone. It does not wait for the instance's
// services: see [Client.WaitInstanceReady].
func (c *Client) LaunchInstance(ctx context.Context, req InstancesPost) error {
	op, err := c.CreateInstance(ctx, req)
	if err != nil {
		return err
	}
	if err := op.Wait(ctx); err != nil {
		return fmt.Errorf("cannot create instance %q: %w", req.Name, err)
	}
	if err := c.StartInstance(ctx, req.Name); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if rerr := c.RemoveInstance(cctx, req.Name); rerr != nil {
			c.log.Warn("cannot remove instance that failed to start", "instance", req.Name, "error", rerr)
		}
		return err
	}
	return nil
}

// StopOptions says how to stop (or restart) an instance.
type StopOptions struct {
	// Timeout is how long the instance may take to shut down cleanly before
	// the stop fails. Zero, like Force, kills the instance at once (LXD's
	// own rule); negative waits for the shutdown without limit (beyond
	// ctx). It is rounded up to whole seconds.
	Timeout time.Duration
	// Force kills the instance at once.
	Force bool
}

func (o StopOptions) seconds() int {
	if o.Timeout < 0 {
		return -1
	}
	s := math.Ceil(o.Timeout.Seconds())
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(s)
}

// StartInstance starts an instance and waits until LXD reports it started.
// An instance already running is left as it is.
func (c *Client) StartInstance(ctx context.Context, name string) error {
	return c.changeState(ctx, name, InstanceStatePut{Action: ActionStart}, StatusRunning)
}

// StopInstance stops an instance and waits for it to stop. An instance
// already stopped is left as it is. Stopping an ephemeral instance deletes
// it.
func (c *Client) StopInstance(ctx context.Context, name string, opts StopOptions) error {
	return c.changeState(ctx, name, InstanceStatePut{Action: ActionStop, Timeout: opts.seconds(), Force: opts.Force}, StatusStopped)
}

// changeState applies req and waits. When LXD refuses because the instance
// is already in the wanted state (want), that is success.
func (c *Client) changeState(ctx context.Context, name string, req InstanceStatePut, want StatusCode) error {
	op, err := c.UpdateInstanceState(ctx, name, req)
	if err == nil {
		if err = op.Wait(ctx); err != nil {
			err = fmt.Errorf("cannot %s instance %q: %w", req.Action, name, err)
		}
	}
	if err == nil || !refused(err) || errors.Is(err, ErrNotFound) {
		return err
	}
	if inst, gerr := c.getInstanceConfig(ctx, name); gerr == nil && inst.StatusCode == want {
		return nil
	}
	return err
}

// RemoveInstance deletes an instance, stopping it first (forcibly) if it is
// not stopped, and waits. An instance that does not exist, or vanishes on
// the way (an ephemeral one deletes itself when stopped), counts as removed.
// An instance busy with another state change (an ephemeral instance
// shutting down by itself refuses a stop or delete meanwhile) is waited for,
// within settleTimeout, and then removed.
func (c *Client) RemoveInstance(ctx context.Context, name string) error {
	var err error
	deadline := time.Now().Add(settleTimeout)
	for {
		err = c.removeOnce(ctx, name)
		if err == nil || !refused(err) || ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		// Refused: most likely a state change under way. Give it time,
		// then try again; gone meanwhile is removed.
		select {
		case <-ctx.Done():
		case <-time.After(settlePoll):
		}
		if gone, gerr := c.instanceGone(ctx, name); gerr == nil && gone {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("cannot remove instance %q: %w", name, err)
	}
	return nil
}

// How long RemoveInstance waits for an instance busy with another state
// change, and how often it looks.
const (
	settleTimeout = 30 * time.Second
	settlePoll    = 250 * time.Millisecond
)

func (c *Client) removeOnce(ctx context.Context, name string) error {
	inst, err := c.getInstanceConfig(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if inst.StatusCode != StatusStopped {
		if err := c.StopInstance(ctx, name, StopOptions{Force: true}); err != nil {
			if gone, gerr := c.instanceGone(ctx, name); gerr == nil && gone {
				return nil
			}
			return err
		}
	}
	op, err := c.DeleteInstance(ctx, name)
	if err == nil {
		err = op.Wait(ctx)
	}
	if err == nil || errors.Is(err, ErrNotFound) {
		return nil
	}
	if ctx.Err() == nil {
		if gone, gerr := c.instanceGone(ctx, name); gerr == nil && gone {
			return nil
		}
	}
	return err
}

// getInstanceConfig reads an instance without its state (cheaper).
func (c *Client) getInstanceConfig(ctx context.Context, name string) (*Instance, error) {
	var inst Instance
	if _, err := c.query(ctx, request{method: http.MethodGet, path: instancePath(name)}, &inst); err != nil {
		return nil, fmt.Errorf("cannot get instance %q: %w", name, err)
	}
	return &inst, nil
}

// instanceExists reports whether an instance of that name exists.
func (c *Client) instanceExists(ctx context.Context, name string) (bool, error) {
	_, err := c.getInstanceConfig(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// instanceGone reports whether the instance no longer exists.
func (c *Client) instanceGone(ctx context.Context, name string) (bool, error) {
	ok, err := c.instanceExists(ctx, name)
	return !ok && err == nil, err
}

// refused reports whether err is the daemon refusing (as opposed to the
// request not getting through).
func refused(err error) bool {
	var se *StatusError
	var oe *OperationError
	return errors.As(err, &se) || errors.As(err, &oe)
}

func instancePath(name string) string { return "/1.0/instances/" + escape(name) }
