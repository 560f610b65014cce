package githubtest

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// patToken is a personal access token and its scopes.
type patToken struct {
	scopes []string
}

func (t *patToken) has(scope string) bool { return slices.Contains(t.scopes, scope) }

// runnerToken is a registration or remove token.
type runnerToken struct {
	kind    string // "registration" or "remove"
	scope   *scope
	expires time.Time
}

// tokenLifetime is how long registration and remove tokens last on GitHub.
const tokenLifetime = time.Hour

// AddToken registers a personal access token with scopes (ScopeAdminOrg,
// ScopeRepo, or none). Adding a known token replaces its scopes.
func (s *Server) AddToken(token string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = &patToken{scopes: slices.Clone(scopes)}
}

// RevokeToken forgets a personal access token: it gets 401 from then on.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
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

// budget is a rate-limit budget: used requests in a window ending at reset.
type budget struct {
	limit int
	used  int
	reset time.Time
}

// RateBudget is a token's rate-limit state.
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

// budgetLocked returns the budget for a token key ("" for anonymous),
// starting a new window if the last one is over.
func (s *Server) budgetLocked(key string, now time.Time) *budget {
	b, ok := s.budgets[key]
	if !ok {
		limit := s.opts.RateLimit
		if key == "" {
			limit = s.opts.AnonymousRateLimit
		}
		b = &budget{limit: limit}
		s.budgets[key] = b
	}
	if b.reset.IsZero() || !now.Before(b.reset) {
		b.used = 0
		b.reset = now.Add(s.opts.RateWindow)
	}
	return b
}

// chargeLocked spends one request of a budget; ok is false if none was left.
func (s *Server) chargeLocked(key string, now time.Time) (RateBudget, bool) {
	b := s.budgetLocked(key, now)
	if b.used >= b.limit {
		return b.snapshot(), false
	}
	b.used++
	return b.snapshot(), true
}

// RateLimit returns a token's budget ("" for anonymous requests).
func (s *Server) RateLimit(token string) RateBudget {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.budgetLocked(token, s.now()).snapshot()
}

// SetRateRemaining sets what is left of a token's budget in the current
// window (starting one if needed), for instance 0 to exhaust it.
func (s *Server) SetRateRemaining(token string, remaining int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.budgetLocked(token, s.now())
	b.used = min(max(b.limit-remaining, 0), b.limit)
}

// SetRateReset moves the end of a token's current window, for instance to a
// moment just ahead so a test sees the budget refill soon.
func (s *Server) SetRateReset(token string, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.budgetLocked(token, s.now())
	b.reset = reset
}
