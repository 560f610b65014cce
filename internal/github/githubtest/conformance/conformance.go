// Package conformance checks the GitHub simulator's recorded exchanges
// against GitHub's OpenAPI description (githubtest/testdata), so that the
// simulator cannot drift from what GitHub answers.
//
// For each exchange it checks:
//   - the answer, with kin-openapi's response validation, when the
//     description declares its status for the operation;
//   - any other error answer (GitHub's undeclared 401, 403, 404, 5xx) against
//     the description's basic-error schema;
//   - the rate-limit headers GitHub sends on every answer (x-ratelimit-limit,
//     -remaining, -used, -reset as integers, and -resource);
//   - the Link header's shape, when present;
//   - a request the simulator accepted (2xx), against the operation's
//     parameters and request body, so that the simulator accepts nothing
//     GitHub would refuse;
//   - conditional requests: a 200 answer to a GET carries an ETag, and a
//     304 (which GitHub gives on any GET, declared or not) answers a GET
//     whose If-None-Match names its ETag, without a body.
//
// Answers shaped by an injected fault are checked like any other: a fault
// that sends a wrong shape on purpose is caught.
//
// A few endpoints the simulator serves, as GitHub does, are missing from the
// description (see Undescribed): their answers get the checks that hold for
// every GitHub answer (rate-limit headers, Link, basic-error on errors, a
// JSON body), not a schema check.
package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"charm.example/github-runner/internal/github/githubtest"
)

// Validator checks exchanges against one OpenAPI description.
type Validator struct {
	doc        *openapi3.T
	router     routers.Router
	basicError *openapi3.Schema
	server     string // the description's first server URL
}

// Load reads and validates an OpenAPI description, such as
// githubtest/testdata/github-runners-openapi.json.
func Load(path string) (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load %s: %w", path, err)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("invalid OpenAPI description %s: %w", path, err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("cannot route %s: %w", path, err)
	}
	be, ok := doc.Components.Schemas["basic-error"]
	if !ok || be.Value == nil {
		return nil, errors.New("the description has no basic-error schema")
	}
	if len(doc.Servers) == 0 {
		return nil, errors.New("the description names no server")
	}
	for _, ep := range undescribedEndpoints() {
		method, path, _ := strings.Cut(ep, " ")
		if item := doc.Paths.Find(path); item != nil && item.GetOperation(method) != nil {
			return nil, fmt.Errorf("%s describes %s: take it off the undescribed endpoints", path, ep)
		}
	}
	return &Validator{doc: doc, router: router, basicError: be.Value, server: strings.TrimSuffix(doc.Servers[0].URL, "/")}, nil
}

// Check returns nil if the exchange is as GitHub's description says, or an
// error listing what is not.
func (v *Validator) Check(ex githubtest.Exchange) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	checkRateHeaders(ex.ResponseHeader, add)
	checkLink(ex.ResponseHeader.Get("Link"), add)
	if ex.Status == http.StatusNotModified {
		// GitHub answers conditional requests on every GET, whether its
		// description declares the 304 or not.
		checkNotModified(ex, add)
		return joinProblems(ex, problems)
	}
	if isRead(ex.Method) && ex.Status == http.StatusOK && !ex.Fault && ex.ResponseHeader.Get("ETag") == "" {
		add("a 200 answer to a %s carries no ETag", ex.Method)
	}

	target := v.server + ex.Path
	if ex.RawQuery != "" {
		target += "?" + ex.RawQuery
	}
	req, err := http.NewRequest(ex.Method, target, bytes.NewReader(ex.RequestBody))
	if err != nil {
		return fmt.Errorf("%s %s: %w", ex.Method, ex.Path, err)
	}
	req.Header = ex.RequestHeader.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if len(ex.RequestBody) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}

	route, params, err := v.router.FindRoute(req)
	switch {
	case err != nil && Undescribed(ex.Endpoint):
		checkUndescribed(ex, v, add)
	case err != nil && ex.Status == http.StatusNotFound:
		// A path GitHub does not have: its 404 must still be GitHub's.
		v.checkBasicError(ex, add)
	case err != nil:
		add("answered %d to a request the description has no operation for: %v", ex.Status, err)
	default:
		v.checkResponse(ex, req, route, params, add)
		if ex.Status >= 200 && ex.Status < 300 {
			v.checkRequest(ex, route, params, add)
		}
	}
	return joinProblems(ex, problems)
}

func joinProblems(ex githubtest.Exchange, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s %s -> %d: %s", ex.Method, ex.Path, ex.Status, strings.Join(problems, "; "))
}

func isRead(method string) bool { return method == http.MethodGet || method == http.MethodHead }

// checkNotModified checks a 304: the answer to a GET whose If-None-Match
// names the answer's ETag (weak comparison), without a body.
func checkNotModified(ex githubtest.Exchange, add func(string, ...any)) {
	if !isRead(ex.Method) {
		add("304 to a %s", ex.Method)
	}
	etag := ex.ResponseHeader.Get("ETag")
	inm := ex.RequestHeader.Get("If-None-Match")
	switch {
	case etag == "":
		add("304 without an ETag")
	case inm == "":
		add("304 to a request without If-None-Match")
	case !weakMatch(inm, etag):
		add("304 for ETag %s, which If-None-Match %q does not name", etag, inm)
	}
	if len(ex.ResponseBody) > 0 {
		add("304 with a body")
	}
}

// weakMatch compares an If-None-Match list with an ETag as RFC 9110's weak
// comparison does.
func weakMatch(ifNoneMatch, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, tag := range strings.Split(ifNoneMatch, ",") {
		if tag = strings.TrimSpace(tag); tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}

// undescribedEndpoints are the endpoints, keyed as Exchange.Endpoint, that
// GitHub serves but the description copy lacks:
//   - enterprise runner groups, which GitHub's GHEC description has and
//     go-github's EnterpriseService.ListRunnerGroups calls, but which the
//     extract leaves out;
//   - the GitHub App endpoints (apps/*: the authenticated App, its
//     installations, installation access tokens, an organization's or a
//     repository's installation), which the extract leaves out too.
func undescribedEndpoints() []string {
	return []string{
		"GET /enterprises/{enterprise}/actions/runner-groups",
		"GET /enterprises/{enterprise}/actions/runner-groups/{runner_group_id}",
		"GET /app",
		"GET /app/installations",
		"GET /app/installations/{installation_id}",
		"POST /app/installations/{installation_id}/access_tokens",
		"GET /orgs/{org}/installation",
		"GET /repos/{owner}/{repo}/installation",
	}
}

// Undescribed reports whether an endpoint (keyed as Exchange.Endpoint) is
// one GitHub serves that the description copy lacks. Load refuses a
// description that has one of them, so the list cannot outlive the gap.
func Undescribed(endpoint string) bool {
	return slices.Contains(undescribedEndpoints(), endpoint)
}

// checkUndescribed checks an answer of an undescribed endpoint for what holds
// on every GitHub answer: an error is a basic-error, a success with a body
// is JSON.
func checkUndescribed(ex githubtest.Exchange, v *Validator, add func(string, ...any)) {
	if ex.Status >= 400 {
		v.checkBasicError(ex, add)
		return
	}
	if len(ex.ResponseBody) == 0 {
		return
	}
	if ct := ex.ResponseHeader.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		add("answer has content type %q, not JSON", ct)
		return
	}
	if !json.Valid(ex.ResponseBody) {
		add("answer is not JSON")
	}
}

// CheckAll checks every exchange and returns the failures.
func (v *Validator) CheckAll(exs []githubtest.Exchange) []error {
	var out []error
	for _, ex := range exs {
		if err := v.Check(ex); err != nil {
			out = append(out, err)
		}
	}
	return out
}

func (v *Validator) checkResponse(ex githubtest.Exchange, req *http.Request, route *routers.Route, params map[string]string, add func(string, ...any)) {
	if route.Operation.Responses.Status(ex.Status) == nil && route.Operation.Responses.Default() == nil {
		if ex.Status < 400 {
			add("status %d is not declared for %s", ex.Status, route.Operation.OperationID)
			return
		}
		v.checkBasicError(ex, add)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      route,
		},
		Status:  ex.Status,
		Header:  ex.ResponseHeader,
		Body:    io.NopCloser(bytes.NewReader(ex.ResponseBody)),
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		add("answer does not match %s: %v", route.Operation.OperationID, err)
	}
}

func (v *Validator) checkRequest(ex githubtest.Exchange, route *routers.Route, params map[string]string, add func(string, ...any)) {
	target := v.server + ex.Path
	if ex.RawQuery != "" {
		target += "?" + ex.RawQuery
	}
	req, err := http.NewRequest(ex.Method, target, bytes.NewReader(ex.RequestBody))
	if err != nil {
		add("%v", err)
		return
	}
	req.Header = ex.RequestHeader.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if len(ex.RequestBody) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError:         true,
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		add("accepted a request that does not match %s: %v", route.Operation.OperationID, err)
	}
}

// checkBasicError checks an error answer against basic-error.
func (v *Validator) checkBasicError(ex githubtest.Exchange, add func(string, ...any)) {
	if ct := ex.ResponseHeader.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		add("error answer has content type %q, not JSON", ct)
		return
	}
	var body any
	if err := json.Unmarshal(ex.ResponseBody, &body); err != nil {
		add("error answer is not JSON: %v", err)
		return
	}
	if err := v.basicError.VisitJSON(body, openapi3.MultiErrors()); err != nil {
		add("error answer does not match basic-error: %v", err)
	}
	if m, ok := body.(map[string]any); !ok || m["message"] == nil {
		add("error answer has no message")
	}
}

// checkRateHeaders checks the headers GitHub sends on every answer.
func checkRateHeaders(h http.Header, add func(string, ...any)) {
	for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Used", "X-RateLimit-Reset"} {
		v := h.Get(name)
		if v == "" {
			add("no %s header", name)
			continue
		}
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			add("%s %q is not an integer", name, v)
		}
	}
	if h.Get("X-RateLimit-Resource") == "" {
		add("no X-RateLimit-Resource header")
	}
}

var linkPart = regexp.MustCompile(`^<([^>]+)>; rel="(next|last|prev|first)"$`)

// checkLink checks a Link header: GitHub-style parts, each URL with page and
// per_page.
func checkLink(link string, add func(string, ...any)) {
	if link == "" {
		return
	}
	for _, part := range strings.Split(link, ", ") {
		m := linkPart.FindStringSubmatch(part)
		if m == nil {
			add("Link part %q is not <URL>; rel=\"next|last|prev|first\"", part)
			continue
		}
		u, err := url.Parse(m[1])
		if err != nil || u.Query().Get("page") == "" || u.Query().Get("per_page") == "" {
			add("Link URL %q lacks page or per_page", m[1])
		}
	}
}

// CheckOnCleanup makes t check, when it ends, every exchange srv recorded
// (srv needs Options.Record), failing t for each that GitHub's description
// contradicts.
func (v *Validator) CheckOnCleanup(t testing.TB, srv *githubtest.Server) {
	t.Helper()
	t.Cleanup(func() {
		for _, err := range v.CheckAll(srv.Exchanges()) {
			t.Errorf("conformance: %v", err)
		}
	})
}
