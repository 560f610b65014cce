// Package githubtest is a stateful simulator of GitHub's self-hosted runner
// API, for tests and demos: an HTTP server on the loopback interface that
// keeps organizations, repositories, enterprises, runners, runner groups,
// tokens, per-token rate-limit budgets and jobs, and answers as GitHub does - the
// same paths, status codes, bodies, Link pagination and rate-limit headers,
// checked against GitHub's own OpenAPI description (testdata/).
//
// Beside the REST API it serves:
//   - the runner application: a stand-in for actions/runner built in memory
//     (config.sh, run.sh, bin/Runner.Listener as POSIX sh scripts that run
//     under busybox), listed by the downloads endpoint and served under
//     /actions/runner/releases/download/ like GitHub's releases;
//   - the runner service the stand-in talks to, under /_runner/ (see
//     runnerapi.go for the protocol), through which runners come online,
//     take jobs and go offline when their listener stops;
//   - a small control API under /_sim/ for processes that cannot call Go
//     (queue a job, read a job, list runners, read request counts).
//
// GitHub Apps authenticate as GitHub's docs describe (apps.go): a test
// registers an App (AddApp, which hands back its private key), installs it
// on an organization, a user's repositories or an enterprise
// (AddInstallation) with permissions, and the App's JWT buys installation
// access tokens that expire by the Clock and open the runner endpoints
// their permissions allow, on a budget of the installation's own.
//
// Successful GETs carry an ETag; a conditional GET that matches it gets 304
// Not Modified and, as on GitHub, spends no rate-limit point (Stats and the
// request log tell 304s and points apart for benchmarks).
//
// Tests drive it directly: seed runners and groups, register tokens with
// scopes, queue jobs and wait for their states, inject faults (status codes,
// latency, dropped connections, secondary rate limits) per endpoint, move an
// injectable clock, and read a request log, per-endpoint counters and, with
// Options.Record, every exchange for conformance checks.
package githubtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Token scopes (classic personal access token scopes) the simulator checks.
const (
	// ScopeAdminOrg is needed for organization runner endpoints.
	ScopeAdminOrg = "admin:org"
	// ScopeRepo is needed for repository runner endpoints.
	ScopeRepo = "repo"
	// ScopeManageRunnersEnterprise is needed for enterprise runner
	// endpoints; ScopeAdminEnterprise includes it.
	ScopeManageRunnersEnterprise = "manage_runners:enterprise"
	ScopeAdminEnterprise         = "admin:enterprise"
)

// Defaults for Options.
const (
	DefaultRateLimit          = 5000
	DefaultAnonymousRateLimit = 60
	DefaultRateWindow         = time.Hour
	DefaultRunnerVersion      = "2.319.1"
	DefaultOfflineAfter       = 6 * time.Second
	DefaultPollTimeout        = 2 * time.Second
	DefaultMaxLog             = 10000
)

// Options configures a Server. The zero value is usable: an empty simulator
// on 127.0.0.1 with a random port and GitHub's default budgets.
type Options struct {
	// Addr is the listen address; empty means 127.0.0.1:0. Keep it on the
	// loopback interface.
	Addr string
	// Orgs and Repos ("owner/repo") exist from the start. Organizations get
	// the "Default" runner group, id 1.
	Orgs  []string
	Repos []string
	// Enterprises maps enterprise slugs to their organizations (created if
	// not in Orgs); see AddEnterprise.
	Enterprises map[string][]string
	// Tokens maps personal access tokens to their scopes (ScopeAdminOrg,
	// ScopeRepo, ScopeManageRunnersEnterprise). A token with no scopes is
	// valid but may do nothing. More can be added with AddToken.
	Tokens map[string][]string
	// Clock tells the time; nil means the real clock.
	Clock Clock
	// RateLimit is each token's budget per RateWindow (default 5,000), and
	// AnonymousRateLimit the budget shared by requests without valid
	// credentials (default 60).
	RateLimit          int
	AnonymousRateLimit int
	// RateWindow is how long a budget lasts from its first request
	// (default one hour).
	RateWindow time.Duration
	// PrimaryLimitStatus is the status for an exhausted budget: 403 (the
	// default) or 429; GitHub uses both.
	PrimaryLimitStatus int
	// RunnerVersion is the runner application's version in download names
	// (default 2.319.1).
	RunnerVersion string
	// RunnerArch is the read-only architecture label of a registered runner
	// until its listener reports its own: "X64" (the default), "ARM64" or
	// "ARM".
	RunnerArch string
	// RunnerURL is the runner service's base URL written into JIT configs
	// and given to config.sh; empty means the server's own URL. Set it when
	// runners reach the simulator by another address.
	RunnerURL string
	// OfflineAfter is how long a runner's listener may stay silent before
	// the runner is offline (default 6 s). PollTimeout is how long a
	// listener's poll is held open when there is no job (default 2 s); it
	// must be well below OfflineAfter.
	OfflineAfter time.Duration
	PollTimeout  time.Duration
	// Seed seeds the random choices of rate-based faults, for repeatable
	// runs. Zero is a valid seed.
	Seed uint64
	// Record keeps every REST exchange (request and answer in full, minus
	// the Authorization header) for Exchanges.
	Record bool
	// InstallationTokenLifetime is how long an App's installation access
	// tokens last (default one hour, as on GitHub), by the Clock.
	InstallationTokenLifetime time.Duration
	// MaxLog bounds the request log (default 10,000 entries; oldest go
	// first).
	MaxLog int
	// Logger receives a line per request at debug level. Nil discards.
	Logger *slog.Logger
}

// Server is a running simulator. Its methods are safe for concurrent use.
type Server struct {
	opts      Options
	clock     Clock
	logger    *slog.Logger
	listener  net.Listener
	http      *http.Server
	baseURL   string // with trailing slash
	runnerURL string

	// releases are the runner application builds of the offered version
	// (Options.RunnerVersion, or the one OfferRunnerUpdate set), under mu.
	releases []release
	// updates says whether listeners of another version are told to update.
	updates bool

	mu sync.Mutex
	// changed is closed and replaced on every change of runners or jobs, to
	// wake waiters.
	changed chan struct{}
	closed  bool

	scopes  map[string]*scope // by lower-cased path
	runners map[int64]*runner
	nextID  int64
	// nextAccountID numbers organizations, repositories and enterprises.
	nextAccountID int64

	labelIDs    map[string]int64 // by lower-cased label name
	nextLabelID int64
	nextGroupID int64

	tokens    map[string]*patToken
	runnerTok map[string]*runnerToken // registration and remove tokens
	budgets   map[budgetKey]*budget

	apps               map[int64]*app
	nextAppID          int64
	installations      map[int64]*installation
	nextInstallationID int64
	instTokens         map[string]*installationToken
	nextTokenSeq       int64
	userIDs            map[string]int64 // user accounts, by lower-cased login

	jobs      map[JobID]*job
	jobOrder  []JobID
	nextJobID JobID

	faults    []*faultState
	nextFault int
	rand      *rand.Rand

	counts    map[string]int
	stats     map[string]*EndpointStats
	log       []Request
	exchanges []Exchange
}

// Start starts a simulator and returns it, or the error from listening.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.AnonymousRateLimit <= 0 {
		opts.AnonymousRateLimit = DefaultAnonymousRateLimit
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = DefaultRateWindow
	}
	switch opts.PrimaryLimitStatus {
	case 0:
		opts.PrimaryLimitStatus = http.StatusForbidden
	case http.StatusForbidden, http.StatusTooManyRequests:
	default:
		return nil, fmt.Errorf("invalid primary limit status %d: want 403 or 429", opts.PrimaryLimitStatus)
	}
	if opts.RunnerVersion == "" {
		opts.RunnerVersion = DefaultRunnerVersion
	}
	switch opts.RunnerArch {
	case "":
		opts.RunnerArch = "X64"
	case "X64", "ARM64", "ARM":
	default:
		return nil, fmt.Errorf("invalid runner architecture %q: want X64, ARM64 or ARM", opts.RunnerArch)
	}
	if opts.OfflineAfter <= 0 {
		opts.OfflineAfter = DefaultOfflineAfter
	}
	if opts.PollTimeout <= 0 {
		opts.PollTimeout = DefaultPollTimeout
	}
	if opts.PollTimeout*2 > opts.OfflineAfter {
		return nil, fmt.Errorf("poll timeout %s must be at most half of offline-after %s", opts.PollTimeout, opts.OfflineAfter)
	}
	if opts.MaxLog <= 0 {
		opts.MaxLog = DefaultMaxLog
	}
	if opts.InstallationTokenLifetime <= 0 {
		opts.InstallationTokenLifetime = DefaultInstallationTokenLifetime
	}
	clock := opts.Clock
	if clock == nil {
		clock = realClock{}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", opts.Addr, err)
	}
	s := &Server{
		opts:          opts,
		clock:         clock,
		logger:        logger,
		listener:      ln,
		baseURL:       "http://" + ln.Addr().String() + "/",
		changed:       make(chan struct{}),
		scopes:        make(map[string]*scope),
		runners:       make(map[int64]*runner),
		nextID:        1,
		nextAccountID: 1001,
		labelIDs:      make(map[string]int64),
		nextLabelID:   1,
		nextGroupID:   2,
		tokens:        make(map[string]*patToken),
		runnerTok:     make(map[string]*runnerToken),
		budgets:       make(map[budgetKey]*budget),
		apps:          make(map[int64]*app),
		nextAppID:     1,
		installations: make(map[int64]*installation),
		// Installation ids are large on GitHub; so they are here, apart
		// from every other id.
		nextInstallationID: 40000001,
		instTokens:         make(map[string]*installationToken),
		userIDs:            make(map[string]int64),
		jobs:               make(map[JobID]*job),
		nextJobID:          1,
		rand:               rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15)),
		counts:             make(map[string]int),
		stats:              make(map[string]*EndpointStats),
	}
	s.runnerURL = s.baseURL
	if opts.RunnerURL != "" {
		u, err := url.Parse(opts.RunnerURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ln.Close()
			return nil, fmt.Errorf("invalid runner URL %q", opts.RunnerURL)
		}
		s.runnerURL = strings.TrimSuffix(opts.RunnerURL, "/") + "/"
	}
	// The read-only labels get the first ids, as on GitHub.
	for _, l := range []string{"self-hosted", "Linux", "X64", "ARM64", "ARM", "macOS", "Windows"} {
		s.labelID(l)
	}
	for _, o := range opts.Orgs {
		if err := s.AddOrg(o); err != nil {
			ln.Close()
			return nil, err
		}
	}
	for _, r := range opts.Repos {
		if err := s.AddRepo(r); err != nil {
			ln.Close()
			return nil, err
		}
	}
	for e, orgs := range opts.Enterprises {
		if err := s.AddEnterprise(e, orgs...); err != nil {
			ln.Close()
			return nil, err
		}
	}
	for t, scopes := range opts.Tokens {
		s.AddToken(t, scopes...)
	}
	s.releases, err = buildReleases(opts.RunnerVersion)
	if err != nil {
		ln.Close()
		return nil, err
	}

	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	go s.http.Serve(ln) //nolint:errcheck // ends with ErrServerClosed on Close
	return s, nil
}

// NewServer starts a simulator like Start and panics if it cannot listen,
// as httptest.NewServer does.
func NewServer(opts Options) *Server {
	s, err := Start(opts)
	if err != nil {
		panic(fmt.Sprintf("githubtest: %v", err))
	}
	return s
}

// URL is the REST API's base URL, with a trailing slash, such as
// http://127.0.0.1:41234/.
func (s *Server) URL() string { return s.baseURL }

// Addr is the listen address, host:port.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// RunnerURL is the runner service URL given to runners.
func (s *Server) RunnerURL() string { return s.runnerURL }

// WebURL is the web address of a scope path on this server, the --url a
// runner's config.sh expects: the server's URL followed by the path.
func (s *Server) WebURL(path string) string { return s.baseURL + strings.Trim(path, "/") }

// Close stops the server at once, dropping open connections. It is safe to
// call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.notifyLocked()
	s.mu.Unlock()
	s.http.Close()
}

// Shutdown stops the server gracefully: no new connections, and open ones
// are given until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.notifyLocked()
	s.mu.Unlock()
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		s.http.Close()
	}
	return err
}

// notifyLocked wakes everything waiting for a change. s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// now reads the simulator's clock.
func (s *Server) now() time.Time { return s.clock.Now() }
