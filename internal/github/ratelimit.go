package github

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"

	"charm.example/github-runner/internal/atomicfile"
)

// RateStatus is GitHub's rate-limit state as last reported in the
// x-ratelimit-* headers of an answer.
type RateStatus struct {
	// Limit is the budget per window (5,000 an hour for a personal token).
	Limit int
	// Remaining is what is left of it.
	Remaining int
	// Used is what has been spent in the current window.
	Used int
	// Reset is when the window ends and the budget refills.
	Reset time.Time
	// Resource is the budget's name, such as "core".
	Resource string
	// Known is false until an answer with rate-limit headers has been seen.
	Known bool
}

// Exhausted reports whether the budget is spent and the reset has not yet
// come, judged at now.
func (s RateStatus) Exhausted(now time.Time) bool {
	return s.Known && s.Remaining <= 0 && now.Before(s.Reset)
}

// defaultSecondaryBackoff is how long to hold off after a secondary limit
// that names no time, as GitHub's documentation advises ("at least one
// minute").
const defaultSecondaryBackoff = time.Minute

// resetBuffer is added to a reset time before requests resume, against clock
// skew between GitHub and this machine.
const resetBuffer = time.Second

// maxErrorBody bounds how much of an error answer is read to classify it.
const maxErrorBody = 1 << 20

// limiter remembers the rate-limit headers seen and refuses requests that are
// sure to be refused, so an exhausted client does not keep hitting GitHub.
// It also counts requests per endpoint. It is safe for concurrent use.
type limiter struct {
	mu sync.Mutex
	// last is the state from the most recent answer carrying headers.
	last RateStatus
	// byResource is the latest state per budget.
	byResource map[string]RateStatus
	// resourceOf is the budget each endpoint was last charged to.
	resourceOf map[string]string
	// secondaryUntil is when a secondary limit is expected to lift.
	secondaryUntil time.Time
	// counts is the number of HTTP requests sent per endpoint template.
	counts map[string]int
	// savePath, if set, is the file the limits in force are kept in for the
	// next process; saved is what it holds.
	savePath string
	saved    savedLimits
	logger   *slog.Logger
}

func newLimiter() *limiter {
	return &limiter{
		byResource: make(map[string]RateStatus),
		resourceOf: make(map[string]string),
		counts:     make(map[string]int),
	}
}

// exemptFromLimit lists endpoints GitHub answers even when the budget is
// spent.
func exemptFromLimit(endpoint string) bool { return endpoint == "GET /rate_limit" }

// blocked returns the error for a request to endpoint that would be refused
// now, or nil.
func (l *limiter) blocked(endpoint string, now time.Time) *RateLimitError {
	if exemptFromLimit(endpoint) {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.secondaryUntil) {
		return &RateLimitError{
			Endpoint:   endpoint,
			Secondary:  true,
			Reset:      l.secondaryUntil,
			RetryAfter: l.secondaryUntil.Sub(now),
			Message:    "secondary rate limit in force, request not sent",
		}
	}
	resource, ok := l.resourceOf[endpoint]
	if !ok {
		resource = "core"
	}
	if st, ok := l.byResource[resource]; ok && st.Exhausted(now) {
		return &RateLimitError{
			Endpoint:   endpoint,
			Limit:      st.Limit,
			Reset:      st.Reset,
			RetryAfter: st.Reset.Sub(now),
			Message:    fmt.Sprintf("rate limit of %d for %q spent until reset, request not sent", st.Limit, resource),
		}
	}
	return nil
}

// admit returns nil when a request to endpoint may go out. When a limit is in
// force it returns the *RateLimitError at once, unless wait is set and ctx
// lets the wait end (no deadline, or one after the lift): then it waits for
// the lift, or for ctx.
func (l *limiter) admit(ctx context.Context, endpoint string, wait bool) error {
	for {
		now := time.Now()
		rerr := l.blocked(endpoint, now)
		if rerr == nil {
			return nil
		}
		if !wait {
			return rerr
		}
		until := rerr.Reset.Add(resetBuffer)
		if deadline, ok := ctx.Deadline(); ok && deadline.Before(until) {
			return rerr
		}
		timer := time.NewTimer(until.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("waiting for the rate limit to lift: %w", ctx.Err())
		case <-timer.C:
		}
	}
}

// count records one HTTP request to endpoint.
func (l *limiter) count(endpoint string) {
	l.mu.Lock()
	l.counts[endpoint]++
	l.mu.Unlock()
}

// observe reads the rate-limit state off an answer to endpoint. For a 403 or
// 429 it returns the *RateLimitError the answer amounts to, or nil when it is
// not a rate limit; the response body stays readable.
func (l *limiter) observe(endpoint string, resp *http.Response, now time.Time) *RateLimitError {
	st, hasHeaders := parseRateHeaders(resp.Header)

	var rerr *RateLimitError
	if mayBeLimit(resp.StatusCode) {
		body := readErrorBody(resp)
		rerr = classifyLimit(endpoint, resp.StatusCode, resp.Header, body.Message, body.DocumentationURL, now)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if hasHeaders {
		l.last = st
		l.byResource[st.Resource] = st
		l.resourceOf[endpoint] = st.Resource
	}
	if rerr != nil && rerr.Secondary && rerr.Reset.After(l.secondaryUntil) {
		l.secondaryUntil = rerr.Reset
	}
	l.saveLocked(now)
	return rerr
}

// status returns the last rate-limit state seen.
func (l *limiter) status() RateStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// requestCounts returns a copy of the per-endpoint request counts.
func (l *limiter) requestCounts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}

// parseRateHeaders reads x-ratelimit-*; ok is false when the limit header is
// missing or malformed.
func parseRateHeaders(h http.Header) (RateStatus, bool) {
	limit, err := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	if err != nil {
		return RateStatus{}, false
	}
	st := RateStatus{Limit: limit, Known: true, Resource: h.Get("X-RateLimit-Resource")}
	if st.Resource == "" {
		st.Resource = "core"
	}
	if v, err := strconv.Atoi(h.Get("X-RateLimit-Remaining")); err == nil {
		st.Remaining = v
	}
	if v, err := strconv.Atoi(h.Get("X-RateLimit-Used")); err == nil {
		st.Used = v
	} else {
		st.Used = st.Limit - st.Remaining
	}
	if v, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil && v > 0 {
		st.Reset = time.Unix(v, 0)
	}
	return st, true
}

// mayBeLimit reports whether an answer's status is one GitHub refuses rate
// limited requests with.
func mayBeLimit(status int) bool {
	return status == http.StatusForbidden || status == http.StatusTooManyRequests
}

// readErrorBody decodes GitHub's error answer and puts the body back for
// go-github to read.
func readErrorBody(resp *http.Response) gh.ErrorResponse {
	var body gh.ErrorResponse
	if resp.Body == nil {
		return body
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	_ = json.Unmarshal(data, &body)
	return body
}

// classifyLimit decides whether a 403 or 429 answer, with its headers and
// GitHub's message and documentation URL, is a rate limit. Secondary:
// a retry-after header, or a body naming the secondary (or, formerly, abuse)
// limit. Primary: x-ratelimit-remaining of 0. A 429 with neither is treated
// as secondary, since 429 means too many requests in any case.
func classifyLimit(endpoint string, status int, h http.Header, message, docURL string, now time.Time) *RateLimitError {
	st, hasHeaders := parseRateHeaders(h)
	retryAfter, hasRetryAfter := parseRetryAfter(h.Get("Retry-After"), now)
	secondaryBody := strings.HasSuffix(docURL, "secondary-rate-limits") ||
		strings.HasSuffix(docURL, "#abuse-rate-limits") ||
		strings.Contains(strings.ToLower(message), "secondary rate limit")
	primary := hasHeaders && st.Remaining <= 0

	switch {
	case hasRetryAfter || secondaryBody || (status == http.StatusTooManyRequests && !primary):
		if !hasRetryAfter {
			if primary && st.Reset.After(now) {
				retryAfter = st.Reset.Sub(now)
			} else {
				retryAfter = defaultSecondaryBackoff
			}
		}
		return &RateLimitError{
			Endpoint:   endpoint,
			StatusCode: status,
			Secondary:  true,
			Limit:      st.Limit,
			Reset:      now.Add(retryAfter),
			RetryAfter: retryAfter,
			Message:    message,
		}
	case primary:
		var wait time.Duration
		if st.Reset.After(now) {
			wait = st.Reset.Sub(now)
		}
		return &RateLimitError{
			Endpoint:   endpoint,
			StatusCode: status,
			Limit:      st.Limit,
			Reset:      st.Reset,
			RetryAfter: wait,
			Message:    message,
		}
	}
	return nil
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// savedLimits is what a limiter keeps on disk for the next process: the
// budgets it saw spent, with their resets, and a secondary limit's end.
// Only what is still in force is kept.
type savedLimits struct {
	Spent          map[string]savedBudget `json:"spent,omitempty"`
	SecondaryUntil time.Time              `json:"secondary-until,omitzero"`
}

type savedBudget struct {
	Limit int       `json:"limit"`
	Reset time.Time `json:"reset"`
}

func (a savedLimits) equal(b savedLimits) bool {
	return a.SecondaryUntil.Equal(b.SecondaryUntil) && maps.EqualFunc(a.Spent, b.Spent,
		func(x, y savedBudget) bool { return x.Limit == y.Limit && x.Reset.Equal(y.Reset) })
}

// persistTo makes the limiter start from the limits a previous process
// saved in dir, and save its own there whenever they change.
func (l *limiter) persistTo(dir string, logger *slog.Logger) {
	path := filepath.Join(dir, rateFile)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.savePath, l.logger = path, logger
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var saved savedLimits
	if json.Unmarshal(data, &saved) != nil {
		return // rewritten at the next change
	}
	l.saved = saved
	for resource, b := range saved.Spent {
		if _, seen := l.byResource[resource]; !seen {
			l.byResource[resource] = RateStatus{Limit: b.Limit, Used: b.Limit, Reset: b.Reset, Resource: resource, Known: true}
		}
	}
	if saved.SecondaryUntil.After(l.secondaryUntil) {
		l.secondaryUntil = saved.SecondaryUntil
	}
}

// saveLocked writes the limits in force at now when they differ from what
// was saved. l.mu must be held.
func (l *limiter) saveLocked(now time.Time) {
	if l.savePath == "" {
		return
	}
	var cur savedLimits
	for resource, st := range l.byResource {
		if st.Exhausted(now) {
			if cur.Spent == nil {
				cur.Spent = make(map[string]savedBudget)
			}
			cur.Spent[resource] = savedBudget{Limit: st.Limit, Reset: st.Reset}
		}
	}
	if l.secondaryUntil.After(now) {
		cur.SecondaryUntil = l.secondaryUntil
	}
	if cur.equal(l.saved) {
		return
	}
	data, err := json.Marshal(cur)
	if err == nil {
		err = atomicfile.Write(l.savePath, data, 0o600)
	}
	if err != nil {
		l.logger.Warn("cannot save the GitHub rate-limit state", "error", err)
		return
	}
	l.saved = cur
}
