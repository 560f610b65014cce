package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// DefaultAPIURL is GitHub.com's REST API.
const DefaultAPIURL = "https://api.github.com/"

// DefaultHTTPTimeout bounds each request when Config.HTTPClient is nil.
const DefaultHTTPTimeout = 60 * time.Second

// DefaultUserAgent is sent when Config.UserAgent is empty.
const DefaultUserAgent = "github-runner-charm"

// Config configures a Client. New copies it; later changes have no effect.
type Config struct {
	// Path is the runners' scope: `org` or `owner/repo` (see ParsePath).
	Path string
	// Token is a personal access token (classic: `repo` scope for a
	// repository, `admin:org` for an organization). Exactly one of Token and
	// TokenSource must be set.
	Token string
	// TokenSource supplies tokens instead of Token, for credentials that
	// change over time.
	TokenSource TokenSource
	// App authenticates as a GitHub App installation instead of with Token
	// or TokenSource (see AppCredentials).
	App *AppCredentials
	// CacheDir, if set, is a folder (created with mode 0700, files 0600)
	// where the Client keeps, per credential, what lets separate processes
	// spend less of the rate limit: the answers of runner and runner group
	// listings, revalidated with conditional requests (a 304 costs nothing
	// against GitHub's primary rate limit), and a spent rate limit's reset,
	// so that a new process does not send what GitHub would refuse. No
	// token, JIT configuration or other secret is written there.
	CacheDir string
	// APIURL is the REST API's base URL. Empty means GitHub.com
	// (https://api.github.com/); GitHub Enterprise Server is
	// `https://HOST/api/v3/`. A missing trailing slash is added.
	APIURL string
	// HTTPClient carries the requests; its Transport (nil: the default
	// transport) and Timeout are used, the Client is not modified. Nil
	// means a client with DefaultHTTPTimeout.
	HTTPClient *http.Client
	// Logger receives debug lines per request and warnings on rate limits.
	// Nil discards them. Tokens never reach it.
	Logger *slog.Logger
	// UserAgent names the caller to GitHub; empty means DefaultUserAgent.
	UserAgent string
	// WaitForRateLimit makes a call that meets a rate limit in force wait for
	// it to lift, when ctx allows: without a deadline, or with one after the
	// lift. Otherwise, and by default, such a call fails at once with a
	// *RateLimitError and sends nothing.
	WaitForRateLimit bool
	// Observe, when set, is called after every request that went out: its
	// endpoint as RequestCounts names it (`GET /orgs/{org}/actions/runners`),
	// the HTTP status (0 when no answer came) and the rate-limit state
	// known after it. It must be quick and safe for concurrent use; it gets
	// no URL, header or body, so no secret.
	Observe func(endpoint string, status int, rate RateStatus)
}

// Client talks to GitHub's self-hosted runner API for one scope. It is safe
// for concurrent use.
//
// The Client never sends a request that a rate limit it knows of would
// refuse: after an answer with x-ratelimit-remaining 0 it refuses locally
// until the reset, and after a secondary limit (403 or 429 with retry-after)
// until the retry-after has passed. These refusals are *RateLimitError with
// StatusCode 0 and are not counted in RequestCounts.
type Client struct {
	scope  Scope
	gh     *gh.Client
	api    *url.URL
	logger *slog.Logger
	limits *limiter
	wait   bool

	// groupsMu guards groups, the organization's runner groups by
	// lower-cased name.
	groupsMu sync.Mutex
	groups   map[string]int64
	// refreshMu makes concurrent cache misses share one refresh.
	refreshMu sync.Mutex
}

// New validates cfg and returns a Client. It does no I/O.
func New(cfg Config) (*Client, error) {
	scope, err := ParsePath(cfg.Path)
	if err != nil {
		return nil, err
	}
	api, err := parseAPIURL(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}

	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	} else {
		hc.Timeout = DefaultHTTPTimeout
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	tokens, credential, err := tokenSource(cfg, base, api)
	if err != nil {
		return nil, err
	}
	limits := newLimiter()
	var rt http.RoundTripper = &transport{
		base:     base,
		tokens:   tokens,
		limits:   limits,
		logger:   logger,
		basePath: strings.TrimSuffix(api.Path, "/"),
		observe:  cfg.Observe,
	}
	if cfg.CacheDir != "" {
		dir, err := credentialDir(cfg.CacheDir, credential)
		if err != nil {
			return nil, err
		}
		limits.persistTo(dir, logger)
		rt = newListingCache(rt, dir, strings.TrimSuffix(api.Path, "/"))
	}
	hc.Transport = rt

	client := gh.NewClient(&hc)
	client.BaseURL = api
	client.UploadURL = api
	client.UserAgent = cfg.UserAgent
	if client.UserAgent == "" {
		client.UserAgent = DefaultUserAgent
	}
	return &Client{
		scope:  scope,
		gh:     client,
		api:    api,
		logger: logger,
		limits: limits,
		wait:   cfg.WaitForRateLimit,
		groups: make(map[string]int64),
	}, nil
}

// tokenSource picks the credential of cfg: exactly one of Token,
// TokenSource and App. credential names it for the cache folder: a digest
// of the API URL with the token, or with the App's id and installation,
// never the secret itself.
func tokenSource(cfg Config, base http.RoundTripper, api *url.URL) (TokenSource, string, error) {
	token := strings.TrimSpace(cfg.Token)
	set := 0
	for _, ok := range []bool{token != "", cfg.TokenSource != nil, cfg.App != nil} {
		if ok {
			set++
		}
	}
	switch {
	case set > 1:
		return nil, "", errors.New("invalid GitHub client configuration: set one of a token, a token source or a GitHub App")
	case cfg.App != nil:
		t, err := newAppTokens(*cfg.App, base, api.String())
		if err != nil {
			return nil, "", err
		}
		return t, digest(api.String(), "app", fmt.Sprint(cfg.App.AppID), fmt.Sprint(cfg.App.InstallationID)), nil
	case cfg.TokenSource != nil:
		return cfg.TokenSource, "", nil
	case token != "":
		return staticToken(token), digest(api.String(), "token", token), nil
	}
	return nil, "", errors.New("invalid GitHub client configuration: a token or a GitHub App is required")
}

func parseAPIURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		raw = DefaultAPIURL
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Error repeats the URL, which may hold credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("invalid GitHub API URL: %w", err)
	}
	safe := u.Redacted()
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("invalid GitHub API URL %q: the scheme must be https or http", safe)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid GitHub API URL %q: no host", safe)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid GitHub API URL %q: only scheme, host and path are allowed", safe)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// Scope is the client's organization or repository.
func (c *Client) Scope() Scope { return c.scope }

// APIURL is the REST API base URL in use, with its trailing slash.
func (c *Client) APIURL() string { return c.api.String() }

// WebURL is the scope's web address, the runner application's `--url`:
//   - GitHub.com (api.github.com): https://github.com/<path>
//   - GitHub Enterprise Cloud with data residency (api.SUB.ghe.com):
//     https://SUB.ghe.com/<path>
//   - GitHub Enterprise Server (https://HOST/api/v3/): https://HOST/<path>
//   - any other API URL (a proxy, a simulator): its scheme and host
//     followed by /<path>.
//
// An enterprise's <path> is enterprises/<slug>.
func (c *Client) WebURL() string {
	host := c.api.Host
	switch {
	case strings.EqualFold(host, "api.github.com"):
		host = "github.com"
	case strings.HasPrefix(strings.ToLower(host), "api.") && strings.HasSuffix(strings.ToLower(host), ".ghe.com"):
		host = host[len("api."):]
	}
	return (&url.URL{Scheme: c.api.Scheme, Host: host, Path: "/" + c.scope.webPath()}).String()
}

// RateLimit returns the rate-limit state from the last answer that carried
// rate-limit headers; Known is false before the first.
func (c *Client) RateLimit() RateStatus { return c.limits.status() }

// RequestCounts returns how many HTTP requests were sent, by endpoint
// template such as "GET /orgs/{org}/actions/runners". Every request that went
// out counts, failed ones included; requests refused locally do not.
func (c *Client) RequestCounts() map[string]int { return c.limits.requestCounts() }

// FetchRateLimit asks GitHub for the core rate-limit state. GitHub answers
// it without charging the budget, even when the budget is spent.
func (c *Client) FetchRateLimit(ctx context.Context) (RateStatus, error) {
	limits, _, err := call(ctx, c, "GET /rate_limit", c.gh.RateLimit.Get)
	if err != nil {
		return RateStatus{}, fmt.Errorf("cannot read GitHub rate limits: %w", err)
	}
	core := limits.GetCore()
	if core == nil {
		return RateStatus{}, fmt.Errorf("cannot read GitHub rate limits: the answer has no core budget")
	}
	return RateStatus{
		Limit:     core.Limit,
		Remaining: core.Remaining,
		Used:      core.Limit - core.Remaining,
		Reset:     core.Reset.Time,
		Resource:  "core",
		Known:     true,
	}, nil
}

// call sends one request through a typed go-github call for endpoint (as
// RequestCounts names it): the limiter admits it first, refusing it or
// waiting as Config.WaitForRateLimit says, and a failure comes back
// classified.
func call[T any](ctx context.Context, c *Client, endpoint string, send func(context.Context) (T, *gh.Response, error)) (T, *gh.Response, error) {
	var zero T
	if err := c.limits.admit(ctx, endpoint, c.wait); err != nil {
		return zero, nil, err
	}
	v, resp, err := send(ctx)
	if err != nil {
		return zero, resp, c.classify(endpoint, err)
	}
	return v, resp, nil
}

// classify turns go-github's errors into this package's: *APIError with a
// sentinel Kind, or *RateLimitError. Other errors (network, context) are
// returned as they are.
func (c *Client) classify(endpoint string, err error) error {
	var own *RateLimitError
	if errors.As(err, &own) {
		if own.Endpoint == "" {
			own.Endpoint = endpoint
		}
		return own
	}
	now := time.Now()
	var rle *gh.RateLimitError
	if errors.As(err, &rle) {
		out := &RateLimitError{
			Endpoint: endpoint,
			Limit:    rle.Rate.Limit,
			Reset:    rle.Rate.Reset.Time,
			Message:  rle.Message,
		}
		if out.Reset.After(now) {
			out.RetryAfter = out.Reset.Sub(now)
		}
		// go-github also refuses locally after remaining 0; its made-up
		// answer carries no headers.
		if rle.Response != nil && rle.Response.Header.Get("X-RateLimit-Limit") != "" {
			out.StatusCode = rle.Response.StatusCode
		}
		return out
	}
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &abuse) {
		out := &RateLimitError{Endpoint: endpoint, Secondary: true, Message: abuse.Message}
		if abuse.RetryAfter != nil {
			out.RetryAfter = *abuse.RetryAfter
			out.Reset = now.Add(out.RetryAfter)
		}
		if abuse.Response != nil && len(abuse.Response.Header) > 0 {
			out.StatusCode = abuse.Response.StatusCode
		}
		return out
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		resp := er.Response
		if mayBeLimit(resp.StatusCode) {
			if rerr := classifyLimit(endpoint, resp.StatusCode, resp.Header, er.Message, er.DocumentationURL, now); rerr != nil {
				return rerr
			}
		}
		return &APIError{
			Endpoint:         endpoint,
			StatusCode:       resp.StatusCode,
			Message:          er.Message,
			DocumentationURL: er.DocumentationURL,
			Kind:             kindOf(resp.StatusCode),
		}
	}
	var accepted *gh.AcceptedError
	if errors.As(err, &accepted) {
		return &APIError{Endpoint: endpoint, StatusCode: http.StatusAccepted, Kind: ErrUnexpectedStatus}
	}
	return err
}
