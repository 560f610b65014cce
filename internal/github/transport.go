package github

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// TokenSource supplies the credential sent with every request, as
// `Authorization: Bearer <token>`. A personal access token is a constant
// source (Config.Token); a GitHub App would supply short-lived installation
// tokens and refresh them itself. Implementations must be safe for
// concurrent use and must never log the token.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// staticToken is a TokenSource for a fixed token.
type staticToken string

func (t staticToken) Token(context.Context) (string, error) { return string(t), nil }

// transport is the Client's one request pipeline below go-github: it refuses
// requests a known rate limit would refuse, adds the credential, counts each
// request that goes out, and reads the rate-limit state off every answer.
type transport struct {
	base     http.RoundTripper
	tokens   TokenSource
	limits   *limiter
	logger   *slog.Logger
	basePath string // the API URL's path without its trailing slash: "" or "/api/v3"
	observe  func(endpoint string, status int, rate RateStatus)
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	endpoint := endpointOf(req.Method, strings.TrimPrefix(req.URL.Path, t.basePath))
	if rerr := t.limits.blocked(endpoint, time.Now()); rerr != nil {
		closeBody(req)
		return nil, rerr
	}
	token, err := t.tokens.Token(ctx)
	if err != nil {
		closeBody(req)
		return nil, fmt.Errorf("cannot get a token for GitHub: %w", err)
	}
	out := req.Clone(ctx)
	out.Header.Set("Authorization", "Bearer "+token)

	t.limits.count(endpoint)
	start := time.Now()
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		t.logger.DebugContext(ctx, "github request failed",
			"endpoint", endpoint, "duration", time.Since(start), "error", err)
		if t.observe != nil {
			t.observe(endpoint, 0, t.limits.status())
		}
		return nil, err
	}
	if r, ok := t.tokens.(renewer); ok && resp.StatusCode == http.StatusUnauthorized && replayable(req) {
		// An installation token GitHub refused before its stated expiry:
		// one more try with a new one.
		t.logger.InfoContext(ctx, "github refused the installation token; renewing it", "endpoint", endpoint)
		drain(resp)
		r.renew()
		if resp, err = t.resend(req, endpoint); err != nil {
			return nil, err
		}
	}
	rerr := t.limits.observe(endpoint, resp, time.Now())
	if t.observe != nil {
		t.observe(endpoint, resp.StatusCode, t.limits.status())
	}
	t.logger.DebugContext(ctx, "github request",
		"endpoint", endpoint, "status", resp.StatusCode, "duration", time.Since(start),
		"rate_remaining", resp.Header.Get("X-RateLimit-Remaining"))
	if rerr != nil {
		t.logger.WarnContext(ctx, "github rate limit hit",
			"endpoint", endpoint, "status", resp.StatusCode, "secondary", rerr.Secondary,
			"reset", rerr.Reset, "retry_after", rerr.RetryAfter)
	}
	return resp, nil
}

// resend sends req again with a fresh token.
func (t *transport) resend(req *http.Request, endpoint string) (*http.Response, error) {
	ctx := req.Context()
	token, err := t.tokens.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot get a token for GitHub: %w", err)
	}
	out := req.Clone(ctx)
	if req.GetBody != nil {
		if out.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	out.Header.Set("Authorization", "Bearer "+token)
	t.limits.count(endpoint)
	return t.base.RoundTrip(out)
}

// replayable reports whether a request can be sent twice.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
