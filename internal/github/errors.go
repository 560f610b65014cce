package github

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinels for the classes of failure callers act on. Every error the
// Client returns for an HTTP answer wraps exactly one of them; check with
// errors.Is. Network failures and context errors are returned wrapped as
// they came (errors.Is(err, context.DeadlineExceeded) holds, and a
// *url.Error stays reachable with errors.As).
var (
	// ErrBadCredentials: 401, the token is unknown, expired or revoked.
	ErrBadCredentials = errors.New("bad credentials")
	// ErrForbidden: 403 that is not a rate limit, typically a token lacking
	// the `repo` or `admin:org` scope.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: 404, the organization or repository does not exist or the
	// token cannot see it, or the runner is unknown (GetRunner).
	ErrNotFound = errors.New("not found")
	// ErrBusy: 422 on deleting a runner that is running a job.
	ErrBusy = errors.New("runner is busy")
	// ErrConflict: 409, for instance a JIT runner name that is taken.
	ErrConflict = errors.New("conflict")
	// ErrValidation: 422 other than ErrBusy, GitHub rejected the request body.
	ErrValidation = errors.New("validation failed")
	// ErrRateLimited: a primary or secondary rate limit; the error is a
	// *RateLimitError.
	ErrRateLimited = errors.New("rate limited")
	// ErrServer: a 5xx answer; the error is an *APIError with the status.
	ErrServer = errors.New("server error")
	// ErrUnexpectedStatus: any other non-2xx answer.
	ErrUnexpectedStatus = errors.New("unexpected status")
	// ErrUnknownGroup: the runner group named in a JITRequest does not exist
	// in the organization; the error is an *UnknownGroupError.
	ErrUnknownGroup = errors.New("unknown runner group")
	// ErrNoDownload: no runner application matches the OS and architecture.
	ErrNoDownload = errors.New("no matching runner download")
)

// APIError is GitHub's answer to a failed request. It unwraps to one of the
// sentinels above (its Kind). It never holds credentials: only the endpoint
// template, the status and GitHub's message.
type APIError struct {
	// Endpoint is the request's method and path template, such as
	// "DELETE /orgs/{org}/actions/runners/{runner_id}".
	Endpoint string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message and DocumentationURL come from GitHub's JSON error body.
	Message          string
	DocumentationURL string
	// Kind is the sentinel the error unwraps to.
	Kind error
}

// Error implements error.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("%s: %d %s", e.Endpoint, e.StatusCode, msg)
}

// Unwrap returns the error's Kind.
func (e *APIError) Unwrap() error { return e.Kind }

// RateLimitError is a request refused because of a rate limit, either by
// GitHub or locally by the Client, which does not send requests it knows
// will be refused. It matches ErrRateLimited.
type RateLimitError struct {
	// Endpoint is the method and path template of the refused request.
	Endpoint string
	// StatusCode is GitHub's status (403 or 429), or 0 when the Client
	// refused the request itself without sending it.
	StatusCode int
	// Secondary is true for a secondary (abuse) limit, false for the primary
	// hourly budget.
	Secondary bool
	// Limit is the primary budget's size, when known.
	Limit int
	// Reset is when the primary budget refills, or when a secondary limit is
	// expected to lift. Zero if unknown.
	Reset time.Time
	// RetryAfter is how long to wait, counted from when the error was made.
	RetryAfter time.Duration
	// Message is GitHub's message, or the Client's own when refused locally.
	Message string
}

// Error implements error.
func (e *RateLimitError) Error() string {
	kind := "primary"
	if e.Secondary {
		kind = "secondary"
	}
	where := "refused locally"
	if e.StatusCode != 0 {
		where = fmt.Sprintf("%d", e.StatusCode)
	}
	s := fmt.Sprintf("%s: %s rate limit exceeded (%s)", e.Endpoint, kind, where)
	if !e.Reset.IsZero() {
		s += fmt.Sprintf(", retry after %s (%s)", e.Reset.UTC().Format(time.RFC3339), e.RetryAfter.Round(time.Second))
	} else if e.RetryAfter > 0 {
		s += fmt.Sprintf(", retry after %s", e.RetryAfter.Round(time.Second))
	}
	return s
}

// Is reports whether target is ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// UnknownGroupError says that a runner group does not exist in the
// organization. It matches ErrUnknownGroup.
type UnknownGroupError struct {
	// Org is the organization searched.
	Org string
	// Group is the group name asked for.
	Group string
}

// Error implements error.
func (e *UnknownGroupError) Error() string {
	return fmt.Sprintf("runner group %q does not exist in organization %q", e.Group, e.Org)
}

// Is reports whether target is ErrUnknownGroup.
func (e *UnknownGroupError) Is(target error) bool { return target == ErrUnknownGroup }

// kindOf classifies a non-2xx status that is not a rate limit.
func kindOf(status int) error {
	switch {
	case status == http.StatusUnauthorized:
		return ErrBadCredentials
	case status == http.StatusForbidden:
		return ErrForbidden
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusConflict:
		return ErrConflict
	case status == http.StatusUnprocessableEntity:
		return ErrValidation
	case status >= 500:
		return ErrServer
	default:
		return ErrUnexpectedStatus
	}
}
