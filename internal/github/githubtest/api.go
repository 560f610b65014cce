package githubtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Documentation URLs GitHub puts in its error bodies.
const (
	docsREST           = "https://docs.github.com/rest"
	docsRunners        = "https://docs.github.com/rest/actions/self-hosted-runners"
	docsRunnerGroups   = "https://docs.github.com/rest/actions/self-hosted-runner-groups"
	docsPrimaryLimit   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
	docsSecondaryLimit = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)

// apiVersion is the REST API version the simulator speaks.
const apiVersion = "2022-11-28"

// maxRequestBody bounds request bodies read by the simulator.
const maxRequestBody = 1 << 20

// Pagination defaults, as GitHub's.
const (
	defaultPerPage = 30
	maxPerPage     = 100
)

// call is one REST request being served.
type call struct {
	s        *Server
	w        http.ResponseWriter
	r        *http.Request
	endpoint string
	template string
	body     []byte
	scope    *scope
	who      principal
	now      time.Time
	// charged is true while the request has spent a point of its budget,
	// in the window ending at chargedWindow.
	charged       bool
	chargedWindow time.Time
}

// access is what an endpoint asks of its caller.
type access int

const (
	// accessScope is a runner endpoint of an organization, a repository or
	// an enterprise: a personal access token with the scope's classic
	// scope, or an installation access token with its permission.
	accessScope access = iota
	// accessApp is an App endpoint: the App's JWT.
	accessApp
	// accessAny is any caller, such as /rate_limit, or a path GitHub does
	// not have.
	accessAny
)

// routes builds the server's handler.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range []string{"/orgs/{org}", "/repos/{owner}/{repo}", "/enterprises/{enterprise}"} {
		base := prefix + "/actions/runners"
		s.handle(mux, http.MethodGet, base, accessScope, s.listRunners)
		s.handle(mux, http.MethodGet, base+"/{runner_id}", accessScope, s.getRunner)
		s.handle(mux, http.MethodDelete, base+"/{runner_id}", accessScope, s.deleteRunner)
		s.handle(mux, http.MethodGet, base+"/downloads", accessScope, s.listDownloads)
		s.handle(mux, http.MethodPost, base+"/registration-token", accessScope, s.createRunnerToken("registration"))
		s.handle(mux, http.MethodPost, base+"/remove-token", accessScope, s.createRunnerToken("remove"))
		s.handle(mux, http.MethodPost, base+"/generate-jitconfig", accessScope, s.generateJITConfig)
		s.handle(mux, http.MethodGet, base+"/{runner_id}/labels", accessScope, s.listLabels)
		s.handle(mux, http.MethodPost, base+"/{runner_id}/labels", accessScope, s.addLabels)
		s.handle(mux, http.MethodPut, base+"/{runner_id}/labels", accessScope, s.setLabels)
		s.handle(mux, http.MethodDelete, base+"/{runner_id}/labels", accessScope, s.removeAllLabels)
		s.handle(mux, http.MethodDelete, base+"/{runner_id}/labels/{name}", accessScope, s.removeLabel)
	}
	for _, prefix := range []string{"/orgs/{org}", "/enterprises/{enterprise}"} {
		s.handle(mux, http.MethodGet, prefix+"/actions/runner-groups", accessScope, s.listGroups)
		s.handle(mux, http.MethodGet, prefix+"/actions/runner-groups/{runner_group_id}", accessScope, s.getGroup)
	}
	s.handle(mux, http.MethodGet, "/app", accessApp, s.getApp)
	s.handle(mux, http.MethodGet, "/app/installations", accessApp, s.listInstallations)
	s.handle(mux, http.MethodGet, "/app/installations/{installation_id}", accessApp, s.getInstallation)
	s.handle(mux, http.MethodPost, "/app/installations/{installation_id}/access_tokens", accessApp, s.createAccessToken)
	s.handle(mux, http.MethodGet, "/orgs/{org}/installation", accessApp, s.findOrgInstallation)
	s.handle(mux, http.MethodGet, "/repos/{owner}/{repo}/installation", accessApp, s.findRepoInstallation)
	s.handle(mux, http.MethodGet, "/rate_limit", accessAny, s.rateLimitStatus)
	mux.HandleFunc("/", s.rest("(unknown)", "", accessAny, func(c *call) { c.notFound() }))

	s.runnerRoutes(mux)
	s.releaseRoutes(mux)
	s.controlRoutes(mux)
	return mux
}

func (s *Server) handle(mux *http.ServeMux, method, template string, acc access, h func(*call)) {
	endpoint := method + " " + template
	mux.HandleFunc(endpoint, s.rest(endpoint, template, acc, h))
}

// rest wraps a REST handler: counting, logging, recording, faults,
// authentication, the rate-limit charge and the scope checks.
func (s *Server) rest(endpoint, template string, acc access, h func(*call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		endpoint := endpoint
		if template == "" {
			endpoint = r.Method + " " + endpoint
		}
		s.count(endpoint)
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
		rw := &responseRecorder{ResponseWriter: w, capture: s.opts.Record}
		out, faulted := rw, false
		var c *call
		defer func() {
			points := 0
			if c != nil && c.charged {
				points = 1
			}
			s.finish(r, endpoint, true, body, out, faulted, points, start)
		}()

		f := s.pickFault(r.Method, template, r.URL.Path)
		if f != nil {
			faulted = true
			if interrupt(w, r, f) {
				out = nil
				return
			}
		}
		c = &call{s: s, w: rw, r: r, endpoint: endpoint, template: template, body: body, now: s.now()}
		c.commonHeaders()
		if !c.authorize(acc) {
			return
		}
		if f != nil && (f.Status != 0 || f.SecondaryLimit) {
			c.fault(f)
			return
		}
		if template != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			c.serveConditional(h)
			return
		}
		h(c)
	}
}

func (c *call) commonHeaders() {
	h := c.w.Header()
	h.Set("X-GitHub-Api-Version-Selected", apiVersion)
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	id := strings.ToUpper(randomHex(10))
	h.Set("X-GitHub-Request-Id", id[:4]+":"+id[4:8]+":"+id[8:14]+":"+id[14:20])
}

// authorize authenticates the request, charges its budget and checks the
// scope and the caller's right to it, answering the request itself when one
// of them fails.
func (c *call) authorize(acc access) bool {
	s := c.s
	s.mu.Lock()
	who := s.identifyLocked(c.r, c.now)
	switch {
	case acc == accessApp && who.kind != appAuth && who.kind != anonymous:
		// GitHub reads any other credential here as a JWT it cannot
		// decode.
		who = principal{present: true, jwtErr: &authError{status: http.StatusUnauthorized, message: msgJWTUndecodable}}
	case acc == accessScope && who.kind == appAuth:
		// A JWT buys installation tokens; it opens nothing else.
		who = principal{present: true}
	}
	var b RateBudget
	ok := true
	if c.template == "/rate_limit" {
		// GitHub does not charge this endpoint.
		b = s.budgetLocked(who.budgetKey(), c.now).snapshot()
	} else {
		b, ok = s.chargeLocked(who.budgetKey(), c.now)
	}
	s.mu.Unlock()
	c.who = who
	c.charged = ok && c.template != "/rate_limit"
	c.chargedWindow = b.Reset
	c.rateHeaders(b)

	switch {
	case !ok:
		who := "127.0.0.1"
		switch c.who.kind {
		case personal:
			who = "user ID 1"
		case installationAuth:
			who = fmt.Sprintf("installation ID %d", c.who.token.inst.id)
		case appAuth:
			who = fmt.Sprintf("app ID %d", c.who.app.id)
		}
		c.errorDoc(s.opts.PrimaryLimitStatus,
			fmt.Sprintf("API rate limit exceeded for %s. If you reach out to GitHub Support for help, please include the request ID %s.",
				who, c.w.Header().Get("X-GitHub-Request-Id")),
			docsPrimaryLimit)
		return false
	case who.kind == anonymous && who.present && acc == accessApp:
		e := who.jwtErr
		if e == nil {
			e = &authError{status: http.StatusUnauthorized, message: msgJWTUndecodable}
		}
		c.errorDoc(e.status, e.message, docsREST)
		return false
	case who.kind == anonymous && who.present:
		c.errorDoc(http.StatusUnauthorized, "Bad credentials", docsREST)
		return false
	case c.template == "/rate_limit":
		return true
	case who.kind == anonymous:
		c.errorDoc(http.StatusUnauthorized, "Requires authentication", docsREST)
		return false
	case acc == accessAny, acc == accessApp:
		return true
	}
	return c.authorizeScope()
}

// scopeLocked finds the scope named by the request's path values, or nil.
func (c *call) scopeLocked() *scope {
	var key string
	switch {
	case c.r.PathValue("enterprise") != "":
		key = enterprisePrefix + c.r.PathValue("enterprise")
	case c.r.PathValue("org") != "":
		key = c.r.PathValue("org")
	default:
		key = c.r.PathValue("owner") + "/" + c.r.PathValue("repo")
	}
	return c.s.scopes[strings.ToLower(key)]
}

// authorizeScope checks that the request's scope exists and that the
// caller may use its runner endpoints.
func (c *call) authorizeScope() bool {
	s := c.s
	s.mu.Lock()
	sc := c.scopeLocked()
	s.mu.Unlock()
	if sc == nil {
		c.notFound()
		return false
	}
	authorized := c.authorizePersonal
	if c.who.kind == installationAuth {
		authorized = c.authorizeInstallation
	}
	if !authorized(sc) {
		return false
	}
	c.scope = sc
	return true
}

// authorizeInstallation checks an installation access token: its
// installation must reach the scope, and it must carry the endpoint's
// permission - administration for a repository, organization_self_hosted_
// runners for an organization, read to look and write to change. GitHub's
// description does not enable the enterprise runner endpoints for Apps.
func (c *call) authorizeInstallation(sc *scope) bool {
	tok := c.who.token
	perm := PermissionAdministration
	if sc.kind != kindRepo {
		perm = PermissionOrgSelfHostedRunners
	}
	level := LevelWrite
	if c.r.Method == http.MethodGet {
		level = LevelRead
	}
	if sc.kind != kindEnterprise {
		c.w.Header().Set("X-Accepted-GitHub-Permissions", perm+"="+level)
	}
	switch {
	case sc.kind == kindRepo && !tok.reaches(sc):
		// A repository the installation cannot see does not exist for it.
		c.notFound()
		return false
	case !tok.reaches(sc), !tok.has(perm, level):
		c.errorDoc(http.StatusForbidden, msgNotIntegration, docsRunners)
		return false
	}
	return true
}

// authorizePersonal checks a personal access token's classic scopes, as the
// description of each runner endpoint gives them: repo for a repository,
// admin:org for an organization, manage_runners:enterprise for an
// enterprise.
func (c *call) authorizePersonal(sc *scope) bool {
	pat := c.who.pat
	need, msg := ScopeRepo, "Must have admin rights to Repository."
	switch sc.kind {
	case kindOrg:
		need, msg = ScopeAdminOrg, "You must be an org admin or have the admin:org scope to use this endpoint."
	case kindEnterprise:
		need, msg = ScopeManageRunnersEnterprise, "You must be an enterprise admin or have the manage_runners:enterprise scope to use this endpoint."
	}
	c.w.Header().Set("X-OAuth-Scopes", strings.Join(pat.scopes, ", "))
	c.w.Header().Set("X-Accepted-OAuth-Scopes", need)
	if !pat.has(need) {
		c.errorDoc(http.StatusForbidden, msg, docsRunners)
		return false
	}
	return true
}

func (c *call) rateHeaders(b RateBudget) {
	h := c.w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(b.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(b.Remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(b.Used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(resetEpoch(b.Reset), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// resetEpoch gives a reset time in whole epoch seconds, rounded up so a
// client never resumes early.
func resetEpoch(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	secs := t.Unix()
	if t.Nanosecond() > 0 {
		secs++
	}
	return secs
}

// fault answers with an injected status or secondary limit.
func (c *call) fault(f *Fault) {
	for k, vs := range f.Header {
		for _, v := range vs {
			c.w.Header().Add(k, v)
		}
	}
	if f.SecondaryLimit {
		status := f.Status
		if status == 0 {
			status = http.StatusForbidden
		}
		retry := f.RetryAfter
		if retry <= 0 {
			retry = time.Minute
		}
		c.w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
		c.errorDoc(status,
			fmt.Sprintf("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID %s.",
				c.w.Header().Get("X-GitHub-Request-Id")),
			docsSecondaryLimit)
		return
	}
	if f.Body != "" {
		c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
		c.w.WriteHeader(f.Status)
		io.WriteString(c.w, f.Body)
		return
	}
	msg := http.StatusText(f.Status)
	if f.Status >= 500 {
		msg = "Server Error"
	}
	c.errorDoc(f.Status, msg, docsREST)
}

// json writes v as GitHub does.
func (c *call) json(status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(c.w, err.Error(), http.StatusInternalServerError)
		return
	}
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(status)
	c.w.Write(buf.Bytes())
}

type errorBody struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status"`
}

func (c *call) errorDoc(status int, msg, doc string) {
	c.json(status, errorBody{Message: msg, DocumentationURL: doc, Status: strconv.Itoa(status)})
}

func (c *call) notFound() { c.errorDoc(http.StatusNotFound, "Not Found", docsREST) }

// invalid answers 422 as GitHub's JSON-schema checks do.
func (c *call) invalid(detail string) {
	c.errorDoc(http.StatusUnprocessableEntity, "Invalid request.\n\n"+detail, docsRunners)
}

// decode reads the JSON request body into v; it answers and reports false on
// a malformed body.
func (c *call) decode(v any) bool {
	if len(bytes.TrimSpace(c.body)) == 0 {
		c.errorDoc(http.StatusBadRequest, "Problems parsing JSON", docsRunners)
		return false
	}
	err := json.Unmarshal(c.body, v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return true
	case errors.As(err, &typeErr):
		c.invalid(fmt.Sprintf("For 'properties/%s', the value is not of type %s.", typeErr.Field, typeErr.Type))
	default:
		c.errorDoc(http.StatusBadRequest, "Problems parsing JSON", docsRunners)
	}
	return false
}

// paginate reads per_page and page, sets the Link header for total items,
// and returns the slice bounds of the requested page.
func (c *call) paginate(total int) (lo, hi int) {
	q := c.r.URL.Query()
	perPage, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || perPage <= 0 {
		perPage = defaultPerPage
	}
	perPage = min(perPage, maxPerPage)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	last := max((total+perPage-1)/perPage, 1)

	// Other parameters first, then per_page and page, as GitHub writes them.
	others := url.Values{}
	for k, vs := range q {
		if k != "per_page" && k != "page" {
			others[k] = vs
		}
	}
	prefix := others.Encode()
	if prefix != "" {
		prefix += "&"
	}
	link := func(p int, rel string) string {
		return fmt.Sprintf(`<%s%s?%sper_page=%d&page=%d>; rel="%s"`,
			strings.TrimSuffix(c.s.baseURL, "/"), c.r.URL.Path, prefix, perPage, p, rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(min(page-1, last), "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"))
	}
	if len(links) > 0 {
		c.w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo = min((page-1)*perPage, total)
	hi = min(lo+perPage, total)
	return lo, hi
}

// runnerLocked finds the runner named by the {runner_id} path value in the
// call's scope, or answers 404.
func (c *call) runnerLocked() *runner {
	id, err := strconv.ParseInt(c.r.PathValue("runner_id"), 10, 64)
	if err != nil {
		c.notFound()
		return nil
	}
	r, ok := c.s.runners[id]
	if !ok || r.scope != c.scope {
		c.notFound()
		return nil
	}
	return r
}

// Wire types, as in GitHub's description.

type labelOut struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type runnerOut struct {
	ID            int64      `json:"id"`
	RunnerGroupID int64      `json:"runner_group_id"`
	Name          string     `json:"name"`
	OS            string     `json:"os"`
	Status        string     `json:"status"`
	Busy          bool       `json:"busy"`
	Ephemeral     bool       `json:"ephemeral"`
	Labels        []labelOut `json:"labels"`
	Version       string     `json:"version,omitempty"`
}

type labelsOut struct {
	TotalCount int        `json:"total_count"`
	Labels     []labelOut `json:"labels"`
}

func (s *Server) labelsOutLocked(r *runner) []labelOut {
	out := []labelOut{}
	for _, l := range r.labels() {
		typ := "custom"
		if l.readOnly {
			typ = "read-only"
		}
		out = append(out, labelOut{ID: s.labelID(l.name), Name: l.name, Type: typ})
	}
	return out
}

func (s *Server) runnerOutLocked(r *runner, now time.Time) runnerOut {
	status := "offline"
	if r.online(now, s.opts.OfflineAfter) {
		status = "online"
	}
	return runnerOut{
		ID: r.id, RunnerGroupID: r.groupID, Name: r.name, OS: r.os, Status: status,
		Busy: r.busy, Ephemeral: r.ephemeral, Labels: s.labelsOutLocked(r), Version: r.version,
	}
}

func (s *Server) listRunners(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(c.now)
	name := c.r.URL.Query().Get("name")
	var matched []*runner
	for _, r := range s.runnersOfLocked(c.scope) {
		if name == "" || strings.EqualFold(r.name, name) {
			matched = append(matched, r)
		}
	}
	lo, hi := c.paginate(len(matched))
	out := struct {
		TotalCount int         `json:"total_count"`
		Runners    []runnerOut `json:"runners"`
	}{TotalCount: len(matched), Runners: []runnerOut{}}
	for _, r := range matched[lo:hi] {
		out.Runners = append(out.Runners, s.runnerOutLocked(r, c.now))
	}
	c.json(http.StatusOK, out)
}

func (s *Server) getRunner(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(c.now)
	if r := c.runnerLocked(); r != nil {
		c.json(http.StatusOK, s.runnerOutLocked(r, c.now))
	}
}

func (s *Server) deleteRunner(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(c.now)
	r := c.runnerLocked()
	if r == nil {
		return
	}
	if r.busy {
		c.errorDoc(http.StatusUnprocessableEntity,
			fmt.Sprintf("Bad request - Runner %q is still running a job", r.name), docsRunners)
		return
	}
	s.deleteRunnerLocked(r)
	c.w.WriteHeader(http.StatusNoContent)
}

func (s *Server) createRunnerToken(kind string) func(*call) {
	return func(c *call) {
		s.mu.Lock()
		tok := randomToken()
		expires := c.now.Add(tokenLifetime)
		s.runnerTok[tok] = &runnerToken{kind: kind, scope: c.scope, expires: expires}
		s.mu.Unlock()
		c.json(http.StatusCreated, struct {
			Token     string `json:"token"`
			ExpiresAt string `json:"expires_at"`
		}{tok, formatExpiry(expires)})
	}
}

// formatExpiry writes a time as GitHub writes token expiry: milliseconds and
// a Pacific offset, like 2020-01-22T12:13:35.123-08:00.
func formatExpiry(t time.Time) string {
	return t.In(time.FixedZone("PST", -8*3600)).Format("2006-01-02T15:04:05.000-07:00")
}

// jitConfig is the JSON inside an encoded JIT configuration, one key per
// line so that the stand-in runner's sh can read it.
type jitConfig struct {
	RunnerID   int64  `json:"runner_id"`
	RunnerName string `json:"runner_name"`
	Secret     string `json:"secret"`
	RunnerURL  string `json:"runner_url"`
	GitHubURL  string `json:"github_url"`
	WorkFolder string `json:"work_folder"`
	Ephemeral  bool   `json:"ephemeral"`
}

func (s *Server) generateJITConfig(c *call) {
	var req struct {
		Name          *string   `json:"name"`
		RunnerGroupID *int64    `json:"runner_group_id"`
		Labels        *[]string `json:"labels"`
		WorkFolder    *string   `json:"work_folder"`
	}
	if !c.decode(&req) {
		return
	}
	switch {
	case req.Name == nil:
		c.invalid(`"name" wasn't supplied.`)
		return
	case strings.TrimSpace(*req.Name) == "":
		c.invalid(`For 'properties/name', "" is too short (minimum is 1 character).`)
		return
	case req.RunnerGroupID == nil:
		c.invalid(`"runner_group_id" wasn't supplied.`)
		return
	case req.Labels == nil:
		c.invalid(`"labels" wasn't supplied.`)
		return
	case len(*req.Labels) == 0:
		c.invalid(`For 'properties/labels', [] should have at least 1 item(s).`)
		return
	case len(*req.Labels) > 100:
		c.invalid(fmt.Sprintf(`For 'properties/labels', the array has %d items, more than 100.`, len(*req.Labels)))
		return
	}
	work := "_work"
	if req.WorkFolder != nil && *req.WorkFolder != "" {
		work = *req.WorkFolder
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if c.scope.groupByID(*req.RunnerGroupID) == nil {
		c.invalid(fmt.Sprintf("Runner group %d not found.", *req.RunnerGroupID))
		return
	}
	if s.runnerByNameLocked(c.scope, *req.Name) != nil {
		c.errorDoc(http.StatusConflict,
			fmt.Sprintf("Already exists - A runner with the name %q already exists.", *req.Name), docsRunners)
		return
	}
	r := s.newRunnerLocked(c.scope, *req.Name, *req.RunnerGroupID, *req.Labels)
	r.ephemeral = true
	r.secret = randomHex(20)
	s.notifyLocked()
	raw, err := json.MarshalIndent(jitConfig{
		RunnerID: r.id, RunnerName: r.name, Secret: r.secret, RunnerURL: s.runnerURL,
		GitHubURL: s.WebURL(c.scope.path), WorkFolder: work, Ephemeral: true,
	}, "", "  ")
	if err != nil {
		http.Error(c.w, err.Error(), http.StatusInternalServerError)
		return
	}
	c.json(http.StatusCreated, struct {
		Runner           runnerOut `json:"runner"`
		EncodedJITConfig string    `json:"encoded_jit_config"`
	}{s.runnerOutLocked(r, c.now), encodeBase64(raw)})
}

func (s *Server) listDownloads(c *call) {
	type download struct {
		OS             string `json:"os"`
		Architecture   string `json:"architecture"`
		DownloadURL    string `json:"download_url"`
		Filename       string `json:"filename"`
		SHA256Checksum string `json:"sha256_checksum"`
	}
	releases := s.currentReleases()
	out := make([]download, 0, len(releases))
	for _, r := range releases {
		out = append(out, download{
			OS: r.os, Architecture: r.arch, DownloadURL: s.releaseURL(r), Filename: r.filename,
			SHA256Checksum: r.sha256,
		})
	}
	c.json(http.StatusOK, out)
}

func (s *Server) listLabels(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := c.runnerLocked(); r != nil {
		s.writeLabelsLocked(c, r)
	}
}

func (s *Server) writeLabelsLocked(c *call, r *runner) {
	labels := s.labelsOutLocked(r)
	c.json(http.StatusOK, labelsOut{TotalCount: len(labels), Labels: labels})
}

// labelsBody decodes {"labels": [...]} with minItems min and maxItems 100.
func (c *call) labelsBody(minItems int) ([]string, bool) {
	var req struct {
		Labels *[]string `json:"labels"`
	}
	if !c.decode(&req) {
		return nil, false
	}
	switch {
	case req.Labels == nil:
		c.invalid(`"labels" wasn't supplied.`)
		return nil, false
	case len(*req.Labels) < minItems:
		c.invalid(fmt.Sprintf(`For 'properties/labels', [] should have at least %d item(s).`, minItems))
		return nil, false
	case len(*req.Labels) > 100:
		c.invalid(fmt.Sprintf(`For 'properties/labels', the array has %d items, more than 100.`, len(*req.Labels)))
		return nil, false
	}
	return *req.Labels, true
}

func (s *Server) addLabels(c *call) {
	labels, ok := c.labelsBody(1)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := c.runnerLocked(); r != nil {
		r.custom = s.customLabelsLocked(r.custom, labels)
		s.notifyLocked()
		s.writeLabelsLocked(c, r)
	}
}

func (s *Server) setLabels(c *call) {
	labels, ok := c.labelsBody(0)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := c.runnerLocked(); r != nil {
		r.custom = s.customLabelsLocked(nil, labels)
		s.notifyLocked()
		s.writeLabelsLocked(c, r)
	}
}

func (s *Server) removeAllLabels(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := c.runnerLocked(); r != nil {
		r.custom = nil
		s.notifyLocked()
		s.writeLabelsLocked(c, r)
	}
}

func (s *Server) removeLabel(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := c.runnerLocked()
	if r == nil {
		return
	}
	name := c.r.PathValue("name")
	for i, l := range r.custom {
		if strings.EqualFold(l, name) {
			r.custom = append(r.custom[:i:i], r.custom[i+1:]...)
			s.notifyLocked()
			s.writeLabelsLocked(c, r)
			return
		}
	}
	for _, l := range r.labels() {
		if l.readOnly && strings.EqualFold(l.name, name) {
			c.errorDoc(http.StatusUnprocessableEntity,
				fmt.Sprintf("Validation Failed: the label %q is read-only and cannot be removed.", l.name), docsRunners)
			return
		}
	}
	c.notFound()
}

type groupOut struct {
	ID                           int64    `json:"id"`
	Name                         string   `json:"name"`
	Visibility                   string   `json:"visibility"`
	Default                      bool     `json:"default"`
	SelectedOrganizationsURL     string   `json:"selected_organizations_url,omitempty"`
	RunnersURL                   string   `json:"runners_url"`
	Inherited                    bool     `json:"inherited"`
	AllowsPublicRepositories     bool     `json:"allows_public_repositories"`
	RestrictedToWorkflows        bool     `json:"restricted_to_workflows"`
	SelectedWorkflows            []string `json:"selected_workflows"`
	WorkflowRestrictionsReadOnly bool     `json:"workflow_restrictions_read_only"`
}

func (s *Server) groupOutLocked(sc *scope, g *group) groupOut {
	prefix := "orgs/" + sc.path
	if sc.kind == kindEnterprise {
		prefix = sc.path
	}
	out := groupOut{
		ID: g.id, Name: g.name, Visibility: "all", Default: g.id == defaultGroupID,
		RunnersURL:        fmt.Sprintf("%s%s/actions/runner-groups/%d/runners", s.baseURL, prefix, g.id),
		SelectedWorkflows: []string{},
	}
	if sc.kind == kindEnterprise {
		out.SelectedOrganizationsURL = fmt.Sprintf("%s%s/actions/runner-groups/%d/organizations", s.baseURL, prefix, g.id)
	}
	return out
}

func (s *Server) listGroups(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lo, hi := c.paginate(len(c.scope.groups))
	out := struct {
		TotalCount int        `json:"total_count"`
		Groups     []groupOut `json:"runner_groups"`
	}{TotalCount: len(c.scope.groups), Groups: []groupOut{}}
	for _, g := range c.scope.groups[lo:hi] {
		out.Groups = append(out.Groups, s.groupOutLocked(c.scope, g))
	}
	c.json(http.StatusOK, out)
}

func (s *Server) getGroup(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := strconv.ParseInt(c.r.PathValue("runner_group_id"), 10, 64)
	g := c.scope.groupByID(id)
	if err != nil || g == nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, s.groupOutLocked(c.scope, g))
}

type rateOut struct {
	Limit     int    `json:"limit"`
	Remaining int    `json:"remaining"`
	Reset     int64  `json:"reset"`
	Used      int    `json:"used"`
	Resource  string `json:"resource"`
}

func (s *Server) rateLimitStatus(c *call) {
	s.mu.Lock()
	core := s.budgetLocked(c.who.budgetKey(), c.now).snapshot()
	s.mu.Unlock()

	full := func(resource string, limit int) rateOut {
		return rateOut{Limit: limit, Remaining: limit, Reset: c.now.Add(time.Hour).Unix(), Resource: resource}
	}
	coreOut := rateOut{Limit: core.Limit, Remaining: core.Remaining, Reset: resetEpoch(core.Reset), Used: core.Used, Resource: "core"}
	c.json(http.StatusOK, map[string]any{
		"resources": map[string]rateOut{
			"core":                        coreOut,
			"search":                      full("search", 30),
			"graphql":                     full("graphql", 5000),
			"integration_manifest":        full("integration_manifest", 5000),
			"source_import":               full("source_import", 100),
			"code_scanning_upload":        full("code_scanning_upload", 1000),
			"actions_runner_registration": full("actions_runner_registration", 10000),
			"scim":                        full("scim", 15000),
			"dependency_snapshots":        full("dependency_snapshots", 100),
			"code_search":                 full("code_search", 10),
		},
		"rate": coreOut,
	})
}
