// Command github-simulator runs the project's GitHub simulator
// (internal/github/githubtest) as a process, for demos and for tests that
// drive the charm from outside Go. It prints the REST API's base URL as the
// first line of its standard output and serves until SIGINT or SIGTERM.
//
//	github-simulator --listen 127.0.0.1:0 --org acme --repo acme/website \
//	    --enterprise acme-corp:acme --token-file tokens.txt
//
// --enterprise SLUG[:ORG,...] creates an enterprise and makes the listed
// organizations its own; its runner endpoints are under
// /enterprises/SLUG/actions and need a token with manage_runners:enterprise.
//
// Tokens: --token-file names a file of lines `TOKEN [SCOPE,SCOPE...]`
// (blank lines and # comments ignored; no scopes means admin:org,repo), which
// keeps them off the command line. --token TOKEN[:SCOPE,...] works too, for
// throw-away test tokens only, since a command line is visible to every
// user of the machine. Tokens can also be added through the control API
// (POST /_sim/tokens). Jobs are queued through the control API
// (POST /_sim/jobs); see the package documentation.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"charm.example/github-runner/internal/github/githubtest"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "github-simulator:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("github-simulator", flag.ContinueOnError)
	var orgs, repos, enterprises, tokens listFlag
	listen := fs.String("listen", "127.0.0.1:0", "listen address (keep it on loopback)")
	fs.Var(&orgs, "org", "an organization to create (repeatable)")
	fs.Var(&repos, "repo", "a repository owner/repo to create (repeatable)")
	fs.Var(&enterprises, "enterprise", "an enterprise SLUG[:ORG,...] to create, with its organizations (repeatable)")
	fs.Var(&tokens, "token", "a test token TOKEN[:SCOPE,...] (repeatable; default scopes admin:org,repo)")
	tokenFile := fs.String("token-file", "", "file of `TOKEN [SCOPE,...]` lines")
	runnerVersion := fs.String("runner-version", githubtest.DefaultRunnerVersion, "runner application version in download names")
	runnerURL := fs.String("runner-url", "", "runner service URL given to runners (default: the server's own)")
	rateLimit := fs.Int("rate-limit", githubtest.DefaultRateLimit, "requests per token per window")
	rateWindow := fs.Duration("rate-window", githubtest.DefaultRateWindow, "rate-limit window")
	offlineAfter := fs.Duration("offline-after", githubtest.DefaultOfflineAfter, "silence after which a runner is offline")
	pollTimeout := fs.Duration("poll-timeout", githubtest.DefaultPollTimeout, "how long a runner's poll is held open")
	verbose := fs.Bool("v", false, "log every request to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	enterpriseOrgs := make(map[string][]string)
	for _, e := range enterprises {
		slug, list, _ := strings.Cut(e, ":")
		var members []string
		for _, o := range strings.Split(list, ",") {
			if o = strings.TrimSpace(o); o != "" {
				members = append(members, o)
			}
		}
		enterpriseOrgs[slug] = append(enterpriseOrgs[slug], members...)
	}

	tokenScopes := make(map[string][]string)
	for _, t := range tokens {
		tok, scopes, _ := strings.Cut(t, ":")
		tokenScopes[tok] = parseScopes(scopes)
	}
	if *tokenFile != "" {
		if err := readTokenFile(*tokenFile, tokenScopes); err != nil {
			return err
		}
	}

	// Signals are caught before the URL is printed, so that a caller that
	// stops the simulator as soon as it has the URL stops it cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	srv, err := githubtest.Start(githubtest.Options{
		Addr:          *listen,
		Orgs:          orgs,
		Repos:         repos,
		Enterprises:   enterpriseOrgs,
		Tokens:        tokenScopes,
		RateLimit:     *rateLimit,
		RateWindow:    *rateWindow,
		RunnerVersion: *runnerVersion,
		RunnerURL:     *runnerURL,
		OfflineAfter:  *offlineAfter,
		PollTimeout:   *pollTimeout,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	fmt.Println(srv.URL())
	logger.Info("github simulator serving", "url", srv.URL(), "orgs", len(orgs), "repos", len(repos), "enterprises", len(enterpriseOrgs), "tokens", len(tokenScopes))

	<-ctx.Done()
	logger.Info("github simulator stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func parseScopes(s string) []string {
	if strings.TrimSpace(s) == "" {
		return []string{githubtest.ScopeAdminOrg, githubtest.ScopeRepo}
	}
	var out []string
	for _, sc := range strings.Split(s, ",") {
		if sc = strings.TrimSpace(sc); sc != "" && sc != "none" {
			out = append(out, sc)
		}
	}
	return out
}

func readTokenFile(path string, into map[string][]string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read token file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		fields := strings.Fields(l)
		if len(fields) > 2 {
			return fmt.Errorf("token file %s line %d: want `TOKEN [SCOPE,...]`", path, n)
		}
		scopes := ""
		if len(fields) == 2 {
			scopes = fields[1]
		}
		into[fields[0]] = parseScopes(scopes)
	}
	return sc.Err()
}
