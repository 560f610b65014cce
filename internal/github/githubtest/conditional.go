package githubtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// Conditional requests, as GitHub's "Best practices for using the REST API"
// describes them: a successful GET carries an ETag; a GET whose
// If-None-Match names the current one gets 304 Not Modified without a body,
// and, when it was authenticated, costs nothing against the primary rate
// limit (the rate-limit headers still come, unchanged). The ETag is a digest
// of the answer's body, so it changes whenever what the answer says does: a
// runner added, removed, going online or offline, busy or idle.

// bufferedWriter holds a handler's answer until its ETag is known.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferedWriter) Header() http.Header { return w.header }

func (w *bufferedWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *bufferedWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// etagOf is the weak ETag of an answer's body, in GitHub's form W/"<hex>".
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `W/"` + hex.EncodeToString(sum[:]) + `"`
}

// etagMatches reports whether an If-None-Match header names etag, by the
// weak comparison RFC 9110 prescribes for it ("*" matches any).
func etagMatches(ifNoneMatch, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, tag := range strings.Split(ifNoneMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}

// serveConditional runs a GET handler and answers with its ETag, or with 304
// Not Modified and the charge given back when If-None-Match names it.
func (c *call) serveConditional(h func(*call)) {
	out := c.w
	buf := &bufferedWriter{header: out.Header()}
	c.w = buf
	h(c)
	c.w = out
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	if buf.status == http.StatusOK {
		etag := etagOf(buf.body.Bytes())
		hdr := out.Header()
		hdr.Set("ETag", etag)
		hdr.Set("Cache-Control", "private, max-age=60, s-maxage=60")
		hdr.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
		if inm := c.r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
			if c.charged && c.who.kind != anonymous {
				c.s.mu.Lock()
				b := c.s.refundLocked(c.who.budgetKey(), c.chargedWindow)
				c.s.mu.Unlock()
				c.charged = false
				c.rateHeaders(b)
			}
			hdr.Del("Content-Type")
			hdr.Del("Content-Length")
			out.WriteHeader(http.StatusNotModified)
			return
		}
	}
	out.WriteHeader(buf.status)
	out.Write(buf.body.Bytes()) //nolint:errcheck // the client may have gone
}

// EndpointStats counts an endpoint's requests.
type EndpointStats struct {
	// Requests counts every request, as Counts does once it is answered
	// (dropped and failed ones included).
	Requests int
	// NotModified counts 304 answers to conditional requests.
	NotModified int
	// RatePoints counts the primary rate-limit points spent: one per
	// charged request; none for a 304, /rate_limit, or a request refused
	// for want of budget.
	RatePoints int
}

func (a *EndpointStats) add(b EndpointStats) {
	a.Requests += b.Requests
	a.NotModified += b.NotModified
	a.RatePoints += b.RatePoints
}

// Stats returns, per endpoint (keyed as Counts), the requests answered, the
// 304s among them and the rate-limit points they spent.
func (s *Server) Stats() map[string]EndpointStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]EndpointStats, len(s.stats))
	for k, v := range s.stats {
		out[k] = *v
	}
	return out
}

// RESTStats sums Stats over the REST API's endpoints, leaving out the
// runner service, downloads and the control API, as RESTCount does.
func (s *Server) RESTStats() EndpointStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var total EndpointStats
	for k, v := range s.stats {
		if isREST(k) {
			total.add(*v)
		}
	}
	return total
}
