package lxd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// response is LXD's envelope around every answer.
type response struct {
	Type       string          `json:"type"` // "sync", "async" or "error"
	Status     string          `json:"status"`
	StatusCode int             `json:"status_code"`
	Operation  string          `json:"operation"`
	ErrorCode  int             `json:"error_code"`
	Error      string          `json:"error"`
	Metadata   json.RawMessage `json:"metadata"`
}

// maxEnvelope bounds how much of a JSON answer is read.
const maxEnvelope = 64 << 20

// request describes one call to the daemon.
type request struct {
	method string
	path   string // escaped path, such as "/1.0/instances/foo"
	query  url.Values
	body   any       // encoded as JSON when not nil
	raw    io.Reader // sent as is when not nil (body must then be nil)
	header http.Header
	etag   string // sent as If-Match when not empty
}

// url returns the request's URL, scoped to the client's project.
func (c *Client) url(path string, query url.Values) string {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	if c.project != "" && q.Get("project") == "" {
		q.Set("project", c.project)
	}
	u := "http://lxd" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// send performs r and returns the daemon's answer when its HTTP status is
// below 400; otherwise it decodes the error envelope into a *StatusError.
// The caller closes the body.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	var body io.Reader = r.raw
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("cannot encode request body: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.url(r.path, r.query), body)
	if err != nil {
		return nil, fmt.Errorf("cannot build request: %w", err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.etag != "" {
		req.Header.Set("If-Match", r.etag)
	}

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			// The url error would repeat the URL around the context error.
			return nil, fmt.Errorf("lxd request %s %s: %w", r.method, r.path, ctx.Err())
		}
		return nil, fmt.Errorf("lxd request %s %s: %w", r.method, r.path, err)
	}
	c.log.Debug("lxd request", "method", r.method, "path", r.path, "status", resp.StatusCode, "duration", time.Since(start))
	if resp.StatusCode < 400 {
		return resp, nil
	}
	defer drain(resp.Body)
	return nil, decodeError(resp)
}

// decodeError turns an error answer into a *StatusError.
func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var env response
	if err := json.Unmarshal(b, &env); err == nil && env.Type == "error" {
		code := env.ErrorCode
		if code == 0 {
			code = resp.StatusCode
		}
		return &StatusError{Code: code, Msg: env.Error}
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 256 {
		msg = msg[:256] + "..."
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &StatusError{Code: resp.StatusCode, Msg: msg}
}

// do performs r and decodes the answer's envelope, turning an error envelope
// into a *StatusError. It returns the envelope and the answer's ETag.
func (c *Client) do(ctx context.Context, r request) (*response, string, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, "", err
	}
	defer drain(resp.Body)
	var env response
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxEnvelope)).Decode(&env); err != nil {
		if ctx.Err() != nil {
			return nil, "", fmt.Errorf("cannot read lxd answer to %s %s: %w", r.method, r.path, ctx.Err())
		}
		return nil, "", fmt.Errorf("cannot decode lxd answer to %s %s: %w", r.method, r.path, err)
	}
	switch env.Type {
	case "sync", "async":
		return &env, resp.Header.Get("ETag"), nil
	case "error":
		code := env.ErrorCode
		if code == 0 {
			code = resp.StatusCode
		}
		return nil, "", &StatusError{Code: code, Msg: env.Error}
	default:
		return nil, "", fmt.Errorf("lxd answered %s %s with an unknown response type %q", r.method, r.path, env.Type)
	}
}

// query performs r, which must answer synchronously, and decodes its
// metadata into out (unless out is nil). It returns the answer's ETag.
func (c *Client) query(ctx context.Context, r request, out any) (string, error) {
	env, etag, err := c.do(ctx, r)
	if err != nil {
		return "", err
	}
	if env.Type != "sync" {
		return "", fmt.Errorf("lxd answered %s %s with a %s response where a sync one was expected", r.method, r.path, env.Type)
	}
	if out != nil && len(env.Metadata) > 0 && string(env.Metadata) != "null" {
		if err := json.Unmarshal(env.Metadata, out); err != nil {
			return "", fmt.Errorf("cannot decode lxd answer to %s %s: %w", r.method, r.path, err)
		}
	}
	return etag, nil
}

// queryOperation performs r, which must start a background operation, and
// returns that operation.
func (c *Client) queryOperation(ctx context.Context, r request) (*Operation, error) {
	env, _, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if env.Type != "async" {
		return nil, fmt.Errorf("lxd answered %s %s with a %s response where an async one was expected", r.method, r.path, env.Type)
	}
	var info OperationInfo
	if err := json.Unmarshal(env.Metadata, &info); err != nil {
		return nil, fmt.Errorf("cannot decode lxd operation started by %s %s: %w", r.method, r.path, err)
	}
	if info.ID == "" {
		info.ID = strings.TrimPrefix(env.Operation, "/1.0/operations/")
	}
	if info.ID == "" {
		return nil, fmt.Errorf("lxd answered %s %s with an operation without an id", r.method, r.path)
	}
	return &Operation{c: c, info: info}, nil
}

// escape escapes one path segment (an instance, profile or alias name).
func escape(s string) string { return url.PathEscape(s) }
