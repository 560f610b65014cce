package githubtest

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// patToken is a personal access token and its scopes.
type patToken struct {
	text   string
	scopes []string
}

// implies reports whether a classic scope carries another with it, as in
// GitHub's "Scopes for OAuth apps": admin:enterprise includes
// manage_runners:enterprise.
func implies(have, want string) bool {
	return have == want || have == ScopeAdminEnterprise && want == ScopeManageRunnersEnterprise
}

func (t *patToken) has(scope string) bool {
	return slices.ContainsFunc(t.scopes, func(have string) bool { return implies(have, scope) })
}

// runnerToken is a registration or remove token.
type runnerToken struct {
	kind    string // "registration" or "remove"
	scope   *scope
	expires time.Time
}

// tokenLifetime is how long registration and remove tokens last on GitHub.
const tokenLifetime = time.Hour

// AddToken registers a personal access token with scopes (ScopeAdminOrg,
// ScopeRepo, ScopeManageRunnersEnterprise, or none). Adding a known token
// replaces its scopes.
func (s *Server) AddToken(token string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = &patToken{text: token, scopes: slices.Clone(scopes)}
}

// RevokeToken forgets a personal access token, or revokes an installation
// access token: it gets 401 from then on.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
	delete(s.instTokens, token)
}

// bearer returns the credential of an Authorization header: "Bearer X" or
// "token X", as GitHub accepts.
func bearer(r *http.Request) (string, bool) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return "", false
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		return "", true
	}
	switch strings.ToLower(scheme) {
	case "bearer", "token":
		return strings.TrimSpace(cred), true
	}
	return "", true
}

// principalKind is who a request authenticated as.
type principalKind int

const (
	anonymous        principalKind = iota
	personal                       // a personal access token
	installationAuth               // an installation access token
	appAuth                        // a GitHub App's JWT
)

// principal is a request's authentication.
type principal struct {
	kind principalKind
	pat  *patToken
	// token is the installation access token, for installationAuth.
	token *installationToken
	// app is the App whose JWT it was, for appAuth.
	app *app
	// present is true when the request carried credentials, valid or not.
	present bool
	// jwtErr says why a JWT was refused, for the App endpoints' answer.
	jwtErr *authError
}

// authError is a refusal with GitHub's status and message.
type authError struct {
	status  int
	message string
}

// identifyLocked resolves a request's credentials at now. s.mu must be
// held.
func (s *Server) identifyLocked(r *http.Request, now time.Time) principal {
	cred, present := bearer(r)
	p := principal{present: present}
	if cred == "" {
		return p
	}
	if pat, ok := s.tokens[cred]; ok {
		p.kind, p.pat = personal, pat
		return p
	}
	if tok, ok := s.instTokens[cred]; ok {
		if now.Before(tok.expires) {
			p.kind, p.token = installationAuth, tok
		}
		return p
	}
	if looksLikeJWT(cred) {
		a, err := s.verifyJWTLocked(cred, now)
		if err != nil {
			p.jwtErr = err
			return p
		}
		p.kind, p.app = appAuth, a
	}
	return p
}

// budgetKey names a rate-limit budget: GitHub keeps one per personal access
// token (per user, really), one per App installation shared by its tokens,
// one per App for its JWTs, and one for unauthenticated requests.
type budgetKey struct {
	kind  principalKind
	id    int64  // the installation's or App's id
	token string // the personal access token
}

func (p principal) budgetKey() budgetKey {
	switch p.kind {
	case personal:
		return budgetKey{kind: personal, token: p.pat.text}
	case installationAuth:
		return budgetKey{kind: installationAuth, id: p.token.inst.id}
	case appAuth:
		return budgetKey{kind: appAuth, id: p.app.id}
	}
	return budgetKey{}
}

// budget is a rate-limit budget: used requests in a window ending at reset.
type budget struct {
	limit int
	used  int
	reset time.Time
}

// RateBudget is a rate-limit budget's state.
type RateBudget struct {
	Limit     int
	Remaining int
	Used      int
	// Reset is when the window ends; zero before the window's first
	// request.
	Reset time.Time
}

func (b *budget) snapshot() RateBudget {
	return RateBudget{Limit: b.limit, Remaining: max(b.limit-b.used, 0), Used: b.used, Reset: b.reset}
}

// limitLocked is a new budget's limit.
func (s *Server) limitLocked(key budgetKey) int {
	switch key.kind {
	case anonymous:
		return s.opts.AnonymousRateLimit
	case installationAuth:
		if inst, ok := s.installations[key.id]; ok {
			return s.installationLimitLocked(inst)
		}
	}
	return s.opts.RateLimit
}

// budgetLocked returns a budget, starting a new window if the last one is
// over.
func (s *Server) budgetLocked(key budgetKey, now time.Time) *budget {
	b, ok := s.budgets[key]
	if !ok {
		b = &budget{limit: s.limitLocked(key)}
		s.budgets[key] = b
	}
	if b.reset.IsZero() || !now.Before(b.reset) {
		b.used = 0
		b.reset = now.Add(s.opts.RateWindow)
	}
	return b
}

// chargeLocked spends one request of a budget; ok is false if none was left.
// The returned Reset names the window charged, for refundLocked.
func (s *Server) chargeLocked(key budgetKey, now time.Time) (RateBudget, bool) {
	b := s.budgetLocked(key, now)
	if b.used >= b.limit {
		return b.snapshot(), false
	}
	b.used++
	return b.snapshot(), true
}

// refundLocked gives back a request charged in the window ending at reset,
// if that window is still the budget's, and returns the budget.
func (s *Server) refundLocked(key budgetKey, reset time.Time) RateBudget {
	b, ok := s.budgets[key]
	if !ok {
		return RateBudget{}
	}
	if b.reset.Equal(reset) && b.used > 0 {
		b.used--
	}
	return b.snapshot()
}

// budgetKeyLocked names the budget of a credential: a personal access token,
// an installation access token (its installation's budget), or "" for
// anonymous requests.
func (s *Server) budgetKeyLocked(credential string) budgetKey {
	if credential == "" {
		return budgetKey{}
	}
	if tok, ok := s.instTokens[credential]; ok {
		return budgetKey{kind: installationAuth, id: tok.inst.id}
	}
	return budgetKey{kind: personal, token: credential}
}

// RateLimit returns the budget a credential spends: a personal access
// token's, an installation access token's installation's, or for "" the
// anonymous budget.
func (s *Server) RateLimit(credential string) RateBudget {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.budgetLocked(s.budgetKeyLocked(credential), s.now()).snapshot()
}

// InstallationRateLimit returns an App installation's budget, which all its
// installation access tokens share.
func (s *Server) InstallationRateLimit(installationID int64) RateBudget {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.budgetLocked(budgetKey{kind: installationAuth, id: installationID}, s.now()).snapshot()
}

// SetRateRemaining sets what is left of a credential's budget (as for
// RateLimit) in the current window (starting one if needed), for instance 0
// to exhaust it.
func (s *Server) SetRateRemaining(credential string, remaining int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.budgetLocked(s.budgetKeyLocked(credential), s.now())
	b.used = min(max(b.limit-remaining, 0), b.limit)
}

// SetRateReset moves the end of a credential's current window (as for
// RateLimit), for instance to a moment just ahead so a test sees the budget
// refill soon.
func (s *Server) SetRateReset(credential string, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.budgetLocked(s.budgetKeyLocked(credential), s.now())
	b.reset = reset
}
