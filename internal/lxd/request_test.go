package lxd_test

// Tests of the request pipeline against a small LXD double: an HTTP server on
// a unix socket answering with LXD's envelopes, for the cases the real daemon
// does not produce on demand.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
)

// serve starts handler on a fresh unix socket and returns a client of it.
func serve(t *testing.T, handler http.Handler, opts lxd.Options) *lxd.Client {
	t.Helper()
	// Unix socket paths are short (108 bytes): t.TempDir() can be too long.
	dir, err := os.MkdirTemp("", "lxdfake")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "unix.socket")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	opts.Socket = sock
	opts.Logger = testLogger(t)
	c, err := lxd.New(opts)
	require.NoError(t, err)
	require.Equal(t, sock, c.Socket())
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func syncResponse(w http.ResponseWriter, metadata any) {
	writeJSON(w, http.StatusOK, map[string]any{"type": "sync", "status": "Success", "status_code": 200, "metadata": metadata})
}

func errorResponse(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"type": "error", "error_code": code, "error": msg})
}

func operation(id string, status lxd.StatusCode, errMsg string) map[string]any {
	return map[string]any{"id": id, "description": "Creating instance", "status_code": status, "err": errMsg, "may_cancel": false}
}

func asyncResponse(w http.ResponseWriter, id string) {
	writeJSON(w, http.StatusAccepted, map[string]any{
		"type": "async", "status": "Operation created", "status_code": 100,
		"operation": "/1.0/operations/" + id,
		"metadata":  operation(id, lxd.StatusRunning, ""),
	})
}

func TestErrorEnvelope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answer   func(w http.ResponseWriter)
		is       error
		isNot    []error
		code     int    // 0: not a *StatusError
		msg      string // LXD's message
		contains string
	}{{
		name:   "404 is not found",
		answer: func(w http.ResponseWriter) { errorResponse(w, 404, "Instance not found") },
		is:     lxd.ErrNotFound, isNot: []error{lxd.ErrConflict},
		code: 404, msg: "Instance not found",
	}, {
		name:   "409 is a conflict",
		answer: func(w http.ResponseWriter) { errorResponse(w, 409, "Alias \"x\" already exists") },
		is:     lxd.ErrConflict, isNot: []error{lxd.ErrNotFound},
		code: 409, msg: "Alias \"x\" already exists",
	}, {
		name:   "412 is a stale etag",
		answer: func(w http.ResponseWriter) { errorResponse(w, 412, "ETag doesn't match") },
		is:     lxd.ErrPreconditionFailed,
		code:   412, msg: "ETag doesn't match",
	}, {
		name:   "500 carries its status only",
		answer: func(w http.ResponseWriter) { errorResponse(w, 500, "Something broke") },
		isNot:  []error{lxd.ErrNotFound, lxd.ErrConflict, lxd.ErrPreconditionFailed},
		code:   500, msg: "Something broke",
	}, {
		name: "an error envelope without error_code takes the HTTP status",
		answer: func(w http.ResponseWriter) {
			writeJSON(w, 403, map[string]any{"type": "error", "error": "not authorized"})
		},
		code: 403, msg: "not authorized",
	}, {
		name: "a non-JSON error body is kept (bounded)",
		answer: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "  bad gateway\n")
		},
		code: 502, msg: "bad gateway",
	}, {
		name: "an empty error body gets the status text",
		answer: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
		},
		is:   lxd.ErrNotFound,
		code: 404, msg: "Not Found",
	}, {
		name:     "a success that is not JSON is a decoding error",
		answer:   func(w http.ResponseWriter) { fmt.Fprint(w, "<html>") },
		contains: "cannot decode",
	}, {
		name: "an unknown envelope type is an error",
		answer: func(w http.ResponseWriter) {
			writeJSON(w, 200, map[string]any{"type": "weird"})
		},
		contains: `unknown response type "weird"`,
	}, {
		name:     "an async answer where a sync one is expected is an error",
		answer:   func(w http.ResponseWriter) { asyncResponse(w, "op1") },
		contains: "where a sync one was expected",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/1.0/instances/x" {
					errorResponse(w, 500, "unexpected path "+r.URL.Path)
					return
				}
				tt.answer(w)
			}), lxd.Options{})
			_, err := c.GetInstance(testCtx(t, 10*time.Second), "x")
			require.Error(t, err)
			if tt.is != nil {
				require.ErrorIs(t, err, tt.is)
			}
			for _, e := range tt.isNot {
				require.NotErrorIs(t, err, e)
			}
			var se *lxd.StatusError
			if tt.code == 0 {
				require.False(t, errors.As(err, &se), "unexpected status error %v", err)
			} else {
				require.ErrorAs(t, err, &se)
				require.Equal(t, tt.code, se.Code)
				require.Equal(t, tt.msg, se.Msg)
				require.ErrorContains(t, err, `cannot get instance "x"`)
			}
			if tt.contains != "" {
				require.ErrorContains(t, err, tt.contains)
			}
		})
	}
}

// opDouble answers POST /1.0/instances with an operation and its wait
// endpoint with the given answers in turn, recording each wait's timeout.
type opDouble struct {
	mu       sync.Mutex
	waits    []string // timeout parameters seen
	answers  []func(w http.ResponseWriter, r *http.Request)
	instance func(w http.ResponseWriter) // GET /1.0/instances/x
	projects []string
}

func (d *opDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.projects = append(d.projects, r.URL.Query().Get("project"))
	d.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/1.0/instances":
		asyncResponse(w, "op1")
	case r.Method == http.MethodGet && r.URL.Path == "/1.0/instances/x":
		if d.instance == nil {
			errorResponse(w, 404, "Instance not found")
			return
		}
		d.instance(w)
	case r.Method == http.MethodGet && r.URL.Path == "/1.0/operations/op1/wait":
		d.mu.Lock()
		d.waits = append(d.waits, r.URL.Query().Get("timeout"))
		n := len(d.waits)
		d.mu.Unlock()
		if n > len(d.answers) {
			errorResponse(w, 500, "too many waits")
			return
		}
		d.answers[n-1](w, r)
	default:
		errorResponse(w, 404, "not found")
	}
}

func (d *opDouble) timeouts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.waits...)
}

func answerOp(status lxd.StatusCode, errMsg string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) { syncResponse(w, operation("op1", status, errMsg)) }
}

func createX(t *testing.T, c *lxd.Client, ctx context.Context) (*lxd.Operation, error) {
	t.Helper()
	op, err := c.CreateInstance(ctx, lxd.InstancesPost{Name: "x", Source: lxd.LocalImage("img")})
	require.NoError(t, err)
	require.Equal(t, "op1", op.ID())
	return op, op.Wait(ctx)
}

func TestOperationWaitLoopsUntilDone(t *testing.T) {
	t.Parallel()
	d := &opDouble{answers: []func(http.ResponseWriter, *http.Request){
		answerOp(lxd.StatusRunning, ""), // the daemon's wait timed out
		answerOp(lxd.StatusRunning, ""),
		answerOp(lxd.StatusSuccess, ""),
	}}
	c := serve(t, d, lxd.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := createX(t, c, ctx)
	require.NoError(t, err)
	got := d.timeouts()
	require.Len(t, got, 3)
	for _, s := range got {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		require.True(t, n >= 29 && n <= 30, "wait timeout %d does not follow the 30s deadline", n)
	}
}

func TestOperationWaitWithoutDeadline(t *testing.T) {
	t.Parallel()
	d := &opDouble{answers: []func(http.ResponseWriter, *http.Request){
		answerOp(lxd.StatusRunning, ""),
		answerOp(lxd.StatusSuccess, ""),
	}}
	c := serve(t, d, lxd.Options{})
	_, err := createX(t, c, t.Context()) // no deadline
	require.NoError(t, err)
	require.Equal(t, []string{"60", "60"}, d.timeouts())
}

func TestOperationFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   lxd.StatusCode
		exists   bool
		conflict bool
		contains string
	}{
		{name: "failure", status: lxd.StatusFailure, contains: `lxd operation "Creating instance" failed: boom`},
		{name: "cancelled", status: lxd.StatusCancelled, contains: "was cancelled: boom"},
		{name: "failed creation of an existing name is a conflict", status: lxd.StatusFailure, exists: true, conflict: true, contains: "failed: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &opDouble{answers: []func(http.ResponseWriter, *http.Request){answerOp(tt.status, "boom")}}
			if tt.exists {
				d.instance = func(w http.ResponseWriter) { syncResponse(w, map[string]any{"name": "x"}) }
			}
			c := serve(t, d, lxd.Options{})
			op, err := createX(t, c, testCtx(t, 10*time.Second))
			var oe *lxd.OperationError
			require.ErrorAs(t, err, &oe)
			require.Equal(t, "op1", oe.ID)
			require.Equal(t, tt.status, oe.StatusCode)
			require.Equal(t, "boom", oe.Err)
			require.ErrorContains(t, err, tt.contains)
			require.Equal(t, tt.conflict, errors.Is(err, lxd.ErrConflict))
			require.NotErrorIs(t, err, lxd.ErrNotFound)
			require.Equal(t, tt.status, op.Info().StatusCode)
		})
	}
}

func TestOperationLost(t *testing.T) {
	t.Parallel()
	d := &opDouble{answers: []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) { errorResponse(w, 404, "Operation not found") },
	}}
	c := serve(t, d, lxd.Options{})
	_, err := createX(t, c, testCtx(t, 10*time.Second))
	require.ErrorIs(t, err, lxd.ErrOperationLost)
	require.NotErrorIs(t, err, lxd.ErrNotFound, "a vanished operation must not read as a missing instance")
}

func TestOperationWaitHonoursContext(t *testing.T) {
	t.Parallel()
	d := &opDouble{answers: []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, // never ends
	}}
	c := serve(t, d, lxd.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := createX(t, c, ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, []string{"1"}, d.timeouts(), "a wait shorter than a second asks for one second")
}

func TestProjectIsSentOnEveryRequest(t *testing.T) {
	t.Parallel()
	d := &opDouble{answers: []func(http.ResponseWriter, *http.Request){answerOp(lxd.StatusSuccess, "")}}
	c := serve(t, d, lxd.Options{Project: "runners"})
	_, err := createX(t, c, testCtx(t, 10*time.Second))
	require.NoError(t, err)
	require.Equal(t, []string{"runners", "runners"}, d.projects)
}

func TestNewRefusesAnHTTPClientTimeout(t *testing.T) {
	t.Parallel()
	_, err := lxd.New(lxd.Options{HTTPClient: &http.Client{Timeout: time.Second}})
	require.ErrorContains(t, err, "Timeout")
	c, err := lxd.New(lxd.Options{HTTPClient: &http.Client{}, Socket: "/nowhere"})
	require.NoError(t, err)
	require.Equal(t, "/nowhere", c.Socket())
}

func TestConnectRefusesAnOldDaemon(t *testing.T) {
	t.Parallel()
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		syncResponse(w, map[string]any{
			"api_version":    "1.0",
			"api_extensions": []string{"instances"},
			"environment":    map[string]any{"server_version": "3.0.3"},
		})
	}), lxd.Options{})
	_, err := lxd.Connect(testCtx(t, 10*time.Second), lxd.Options{Socket: c.Socket()})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.ErrorContains(t, err, "container_exec_recording")
}

// TestCreateInstanceFileWithoutHead checks the file push contract on the
// wire, against a daemon that does not answer HEAD on files: whatever is at
// the path is deleted, then the content goes as application/octet-stream
// with owner and mode headers.
func TestCreateInstanceFileWithoutHead(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls []string
	var pushed []byte
	var header http.Header
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, r.Method+" "+r.URL.Path+" "+r.URL.Query().Get("path"))
		switch r.Method {
		case http.MethodHead:
			w.WriteHeader(http.StatusMethodNotAllowed)
		case http.MethodDelete:
			errorResponse(w, 404, "Not Found")
		case http.MethodPost:
			header = r.Header.Clone()
			b, err := io.ReadAll(r.Body)
			if err != nil {
				errorResponse(w, 500, err.Error())
				return
			}
			pushed = b
			syncResponse(w, map[string]any{})
		}
	}), lxd.Options{})
	content := []byte("token\x00\xff")
	err := c.CreateInstanceFile(testCtx(t, 10*time.Second), "i1", "/etc/secret", lxd.InstanceFileArgs{
		Content: bytes.NewReader(content), UID: 1000, GID: 1001, Mode: 0o600,
	})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{
		"HEAD /1.0/instances/i1/files /etc/secret",
		"DELETE /1.0/instances/i1/files /etc/secret",
		"POST /1.0/instances/i1/files /etc/secret",
	}, calls)
	require.Equal(t, content, pushed)
	require.Equal(t, "application/octet-stream", header.Get("Content-Type"))
	require.Equal(t, "file", header.Get("X-LXD-type"))
	require.Equal(t, "0600", header.Get("X-LXD-mode"))
	require.Equal(t, "1000", header.Get("X-LXD-uid"))
	require.Equal(t, "1001", header.Get("X-LXD-gid"))
}
