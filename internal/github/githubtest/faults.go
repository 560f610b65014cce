package githubtest

import (
	"net/http"
	"path"
	"strings"
	"time"
)

// Fault is a misbehaviour to inject into matching requests. Faults are
// checked in the order injected; the first that matches (and, with Rate,
// fires) applies. Latency comes first, then a drop; a Status or
// SecondaryLimit answer replaces the real one after authentication and the
// rate-limit charge, so it carries the rate-limit headers as GitHub's would.
type Fault struct {
	// Method matches the request method; "" matches any.
	Method string
	// Path matches the endpoint template, such as
	// "/orgs/{org}/actions/runners", or, as a path.Match pattern, the
	// request path, such as "/repos/acme/*/actions/runners". "" matches any
	// path. Runner-service paths (/_runner/...) can be matched too.
	Path string

	// Latency delays the answer (real time, whatever the Clock).
	Latency time.Duration
	// Drop closes the connection without answering.
	Drop bool
	// Status answers with this status and a GitHub-style error body, or
	// with Body if set (then any status, 200 included, for answers of a
	// wrong shape).
	Status int
	Body   string
	// Header adds headers to a Status answer.
	Header http.Header
	// SecondaryLimit answers as GitHub's secondary rate limit: Status (403
	// by default, or 429) with retry-after of RetryAfter (default 60 s,
	// whole seconds) and GitHub's message and documentation URL.
	SecondaryLimit bool
	RetryAfter     time.Duration

	// Count is how many matching requests the fault affects before it is
	// spent; 0 means no limit.
	Count int
	// Rate is the chance, in (0, 1], that a matching request is affected,
	// drawn from the server's seeded random source; 0 means always.
	Rate float64
}

type faultState struct {
	id int
	Fault
	left int // remaining applications when Count > 0
}

// InjectFault adds a fault and returns a function that removes it.
func (s *Server) InjectFault(f Fault) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextFault++
	st := &faultState{id: s.nextFault, Fault: f, left: f.Count}
	s.faults = append(s.faults, st)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.removeFaultLocked(st.id)
	}
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) removeFaultLocked(id int) {
	for i, f := range s.faults {
		if f.id == id {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return
		}
	}
}

func (f *Fault) matches(method, template, reqPath string) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, method) {
		return false
	}
	if f.Path == "" || f.Path == template {
		return true
	}
	ok, err := path.Match(f.Path, reqPath)
	return err == nil && ok
}

// pickFault returns the fault to apply to a request, spending one of its
// applications, or nil.
func (s *Server) pickFault(method, template, reqPath string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.faults {
		if !st.matches(method, template, reqPath) {
			continue
		}
		if st.Rate > 0 && st.Rate < 1 && s.rand.Float64() >= st.Rate {
			continue
		}
		f := st.Fault
		if st.Count > 0 {
			st.left--
			if st.left <= 0 {
				s.removeFaultLocked(st.id)
			}
		}
		return &f
	}
	return nil
}

// interrupt applies f's latency and dropped connection to a request. It
// reports whether the request ended there (abandoned by the client during
// the latency, or dropped): then there is no answer to write or record.
func interrupt(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	if !delay(r, f.Latency) {
		return true
	}
	if f.Drop {
		drop(w)
		return true
	}
	return false
}

// delay waits for d of real time or until the request is abandoned; it
// reports false in the latter case.
func delay(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// drop closes the client connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	// Not hijackable (HTTP/2): abort the handler, which resets the stream.
	panic(http.ErrAbortHandler)
}
