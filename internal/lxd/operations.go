package lxd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// maxWaitChunk is how long one wait request may last when the context has no
// deadline; Wait then repeats it until the operation ends.
const maxWaitChunk = 60 * time.Second

// Operation is a background task on the daemon (creating, starting or
// deleting an instance, running a command, publishing an image...). It is
// returned by asynchronous calls; [Operation.Wait] blocks until it ends.
// Its methods are safe for concurrent use.
type Operation struct {
	c *Client

	mu   sync.Mutex
	info OperationInfo

	// classify, when set, may refine the error of a failed operation (for
	// example mark a failed creation whose object exists as a conflict).
	classify func(ctx context.Context, e *OperationError)
}

// ID returns the operation's UUID.
func (op *Operation) ID() string {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.info.ID
}

// Info returns the operation's last known state: as started, or as last seen
// by [Operation.Wait] or [Operation.Refresh]. Once Wait returned, it is the
// final state, whose Metadata holds the operation's result.
func (op *Operation) Info() OperationInfo {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.info
}

func (op *Operation) path() string {
	return "/1.0/operations/" + escape(op.ID())
}

func (op *Operation) set(info OperationInfo) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.info = info
}

// Refresh reads the operation's current state from the daemon.
func (op *Operation) Refresh(ctx context.Context) (OperationInfo, error) {
	var info OperationInfo
	if _, err := op.c.query(ctx, request{method: http.MethodGet, path: op.path()}, &info); err != nil {
		return OperationInfo{}, op.lost(err)
	}
	op.set(info)
	return info, nil
}

// Wait blocks until the operation ends and returns nil if it succeeded, an
// *[OperationError] if it failed or was cancelled, or an error wrapping
// ctx.Err() when ctx ends first (the operation then goes on: see
// [Operation.Cancel]). Each wait request asks the daemon to hold it for the
// time left before ctx's deadline; without a deadline Wait repeats bounded
// requests until the operation ends.
func (op *Operation) Wait(ctx context.Context) error {
	for {
		info := op.Info()
		if info.StatusCode.Final() {
			return op.result(ctx, info)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cannot wait for lxd operation %q: %w", info.Description, err)
		}
		q := url.Values{"timeout": {strconv.Itoa(waitSeconds(ctx))}}
		var next OperationInfo
		if _, err := op.c.query(ctx, request{method: http.MethodGet, path: op.path() + "/wait", query: q}, &next); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("cannot wait for lxd operation %q: %w", info.Description, ctx.Err())
			}
			return fmt.Errorf("cannot wait for lxd operation %q: %w", info.Description, op.lost(err))
		}
		op.set(next)
	}
}

// waitSeconds is the timeout of one wait request: the whole seconds left
// before ctx's deadline (at least one), or maxWaitChunk without a deadline.
func waitSeconds(ctx context.Context) int {
	d, ok := ctx.Deadline()
	if !ok {
		return int(maxWaitChunk / time.Second)
	}
	s := math.Ceil(time.Until(d).Seconds())
	if s < 1 {
		return 1
	}
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(s)
}

// lost maps a 404 about the operation itself to ErrOperationLost, so that it
// cannot be mistaken for the operation's object being missing.
func (op *Operation) lost(err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %s (%v)", ErrOperationLost, op.ID(), err)
	}
	return err
}

func (op *Operation) result(ctx context.Context, info OperationInfo) error {
	if info.StatusCode == StatusSuccess {
		return nil
	}
	e := &OperationError{ID: info.ID, Description: info.Description, StatusCode: info.StatusCode, Err: info.Err}
	if e.Err == "" {
		e.Err = info.Status
	}
	if op.classify != nil {
		op.classify(ctx, e)
	}
	return e
}

// Cancel asks the daemon to cancel the operation. Not every operation can be
// cancelled (see [OperationInfo.MayCancel]); LXD answers those with an error.
// Cancel does not wait: call [Operation.Wait] to see it end.
func (op *Operation) Cancel(ctx context.Context) error {
	if _, err := op.c.query(ctx, request{method: http.MethodDelete, path: op.path()}, nil); err != nil {
		return fmt.Errorf("cannot cancel lxd operation %q: %w", op.Info().Description, op.lost(err))
	}
	return nil
}
