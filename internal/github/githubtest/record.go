package githubtest

import (
	"bytes"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Request is one entry of the request log.
type Request struct {
	Time     time.Time
	Method   string
	Path     string
	RawQuery string
	// Endpoint is "METHOD /template", the key of Counts.
	Endpoint string
	// Status is the answer's status, 0 if the connection was dropped or
	// the client went away.
	Status int
	// Fault is true when an injected fault shaped the answer.
	Fault bool
	// RatePoints is the primary rate-limit points the request spent: 1,
	// or 0 for a 304, /rate_limit, a refusal for want of budget, and
	// everything outside the REST API.
	RatePoints int
}

// NotModified reports whether the request was a conditional GET answered
// 304 Not Modified.
func (r Request) NotModified() bool { return r.Status == http.StatusNotModified }

// Exchange is a recorded REST request and its answer (Options.Record). The
// Authorization header is left out.
type Exchange struct {
	Method         string
	Path           string
	RawQuery       string
	Endpoint       string
	RequestHeader  http.Header
	RequestBody    []byte
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte
	// Fault is true when an injected fault shaped the answer.
	Fault bool
}

// responseRecorder captures the status (always) and the body (when
// recording) of an answer.
type responseRecorder struct {
	http.ResponseWriter
	status  int
	header  http.Header
	capture bool
	body    bytes.Buffer
}

func (w *responseRecorder) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	w.header = w.ResponseWriter.Header().Clone()
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.capture {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets long answers be flushed through the recorder.
func (w *responseRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// countLocked records one request to endpoint.
func (s *Server) count(endpoint string) {
	s.mu.Lock()
	s.counts[endpoint]++
	s.mu.Unlock()
}

// finish logs a served request, counts it in Stats and, for a REST request
// when recording, keeps its exchange.
func (s *Server) finish(r *http.Request, endpoint string, rest bool, reqBody []byte, w *responseRecorder, fault bool, points int, start time.Time) {
	status := 0
	if w != nil {
		status = w.status
	}
	s.logger.Debug("github simulator request", "endpoint", endpoint, "path", r.URL.Path, "status", status,
		"fault", fault, "rate_points", points, "duration", time.Since(start))
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stats[endpoint]
	if !ok {
		st = &EndpointStats{}
		s.stats[endpoint] = st
	}
	st.Requests++
	if status == http.StatusNotModified {
		st.NotModified++
	}
	st.RatePoints += points
	s.log = append(s.log, Request{
		Time: s.now(), Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Endpoint: endpoint, Status: status, Fault: fault, RatePoints: points,
	})
	if over := len(s.log) - s.opts.MaxLog; over > 0 {
		s.log = slices.Delete(s.log, 0, over)
	}
	if s.opts.Record && rest && w != nil && w.status != 0 {
		hdr := r.Header.Clone()
		hdr.Del("Authorization")
		s.exchanges = append(s.exchanges, Exchange{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Endpoint: endpoint,
			RequestHeader: hdr, RequestBody: reqBody,
			Status: w.status, ResponseHeader: w.header, ResponseBody: bytes.Clone(w.body.Bytes()),
			Fault: fault,
		})
	}
}

// Counts returns the number of requests received per endpoint, keyed like
// "GET /orgs/{org}/actions/runners" ("POST /_runner/poll" for the runner
// service). Every request counts, dropped and failed ones included.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// Count returns the number of requests received for one endpoint key.
func (s *Server) Count(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[endpoint]
}

// RESTCount returns the number of REST API requests received, leaving out
// the runner service, downloads and the control API.
func (s *Server) RESTCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.counts {
		if isREST(k) {
			n += v
		}
	}
	return n
}

// isREST reports whether an endpoint key is the REST API's, not the runner
// service's, the downloads' or the control API's.
func isREST(endpoint string) bool {
	_, p, _ := strings.Cut(endpoint, " ")
	return !strings.HasPrefix(p, "/_") && !strings.HasPrefix(p, "/actions/runner/releases/")
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Exchanges returns the recorded REST exchanges (Options.Record), oldest
// first.
func (s *Server) Exchanges() []Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.exchanges)
}
