package lxd

import (
	"errors"
	"fmt"
)

// ErrNotFound matches (with errors.Is) any error saying that an LXD object
// does not exist: an HTTP 404 from the daemon.
var ErrNotFound = errors.New("not found")

// ErrConflict matches (with errors.Is) any error saying that an LXD object
// already exists: an HTTP 409 from the daemon, or a create call that failed
// while an object of the same name exists.
var ErrConflict = errors.New("already exists")

// ErrPreconditionFailed matches (with errors.Is) an update refused because the
// object changed since it was read (an HTTP 412 answering a stale ETag).
var ErrPreconditionFailed = errors.New("object changed since it was read")

// ErrNoSocket is returned (wrapped) when no usable LXD unix socket was found;
// the message names every place that was tried.
var ErrNoSocket = errors.New("no LXD unix socket found")

// ErrOperationLost is returned (wrapped) when an operation disappeared from
// the daemon before its outcome was read. LXD forgets finished operations a
// few seconds after they end, so this happens when an Operation is waited on
// long after it finished, or when the daemon restarted meanwhile.
var ErrOperationLost = errors.New("lxd operation no longer exists")

// StatusError is an error answered by the LXD daemon, carrying the HTTP status
// code and LXD's message. errors.Is maps code 404 to [ErrNotFound], 409 to
// [ErrConflict] and 412 to [ErrPreconditionFailed].
type StatusError struct {
	// Code is the HTTP status code (LXD's error_code).
	Code int
	// Msg is LXD's error message.
	Msg string
}

// Error implements error.
func (e *StatusError) Error() string {
	return fmt.Sprintf("lxd error %d: %s", e.Code, e.Msg)
}

// Is reports whether the status error matches one of the package's sentinel
// errors.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == 404
	case ErrConflict:
		return e.Code == 409
	case ErrPreconditionFailed:
		return e.Code == 412
	}
	return false
}

// OperationError is a background operation that ended in failure or was
// cancelled. errors.Is matches it against [ErrConflict] when the client could
// tell (by looking, not by parsing the message) that the operation failed
// because its object already existed.
type OperationError struct {
	// ID is the operation's UUID.
	ID string
	// Description is LXD's description, such as "Creating instance".
	Description string
	// StatusCode is the operation's final status: [StatusFailure] or
	// [StatusCancelled].
	StatusCode StatusCode
	// Err is LXD's error message.
	Err string

	kind error
}

// Error implements error.
func (e *OperationError) Error() string {
	desc := e.Description
	if desc == "" {
		desc = e.ID
	}
	if e.StatusCode == StatusCancelled {
		return fmt.Sprintf("lxd operation %q was cancelled: %s", desc, e.Err)
	}
	return fmt.Sprintf("lxd operation %q failed: %s", desc, e.Err)
}

// Is reports whether the failure was classified as target (see the type's
// documentation).
func (e *OperationError) Is(target error) bool {
	return e.kind != nil && target == e.kind
}
