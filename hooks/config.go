package hooks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/pool"
)

// LoadSettings reads the options with config-get, validates them, and
// resolves a secret token (key `token` of the secret) with secret-get. Bad
// options, and a secret that cannot be read, give a *config.Error naming
// them; a failure to talk to Juju is returned as is (a passing fault).
func LoadSettings(ctx context.Context, j Juju) (pool.Settings, error) {
	raw, err := j.Config(ctx)
	if err != nil {
		return pool.Settings{}, fmt.Errorf("cannot read the configuration: %w", err)
	}
	s := pool.Decode(raw)
	var problems []config.Problem
	var cerr *config.Error
	if err := s.Validate(); errors.As(err, &cerr) {
		problems = cerr.Problems
	}
	if s.IsSecretToken() && !config.HasProblem(problemsError(problems), "token") {
		uri := string(s.Token)
		value, err := j.SecretValue(ctx, uri, "token")
		var te *juju.ToolError
		switch {
		case errors.As(err, &te):
			hint := ""
			if errors.Is(err, juju.ErrPermissionDenied) {
				hint = " (grant it with juju grant-secret)"
			}
			problems = append(problems, config.Problem{Option: "token", Text: fmt.Sprintf("token: cannot read secret %s: %s%s", uri, te.Message, hint)})
		case err != nil:
			return s, fmt.Errorf("cannot read the token secret: %w", err)
		case strings.TrimSpace(value) == "":
			problems = append(problems, config.Problem{Option: "token", Text: fmt.Sprintf("token: secret %s holds an empty token", uri)})
		default:
			s.TokenSecret, s.Token = uri, pool.Token(strings.TrimSpace(value))
		}
	}
	if p := resolveAppKey(ctx, j, &s, problems); p != nil {
		if p.err != nil {
			return s, p.err
		}
		problems = append(problems, p.problem)
	}
	return s, problemsError(problems)
}

// appKeyProblem is what resolveAppKey found wrong: a problem with the
// option, or a failure to talk to Juju.
type appKeyProblem struct {
	problem config.Problem
	err     error
}

// resolveAppKey reads the App's private key from the secret app-private-key
// names (content key `private-key`) and checks it. The charm takes the key
// from a secret only: a PEM in the configuration would show to anyone who
// can read it.
func resolveAppKey(ctx context.Context, j Juju, s *pool.Settings, problems []config.Problem) *appKeyProblem {
	if s.AppPrivateKey == "" || config.HasProblem(problemsError(problems), "app-private-key") {
		return nil
	}
	bad := func(format string, args ...any) *appKeyProblem {
		return &appKeyProblem{problem: config.Problem{Option: "app-private-key", Text: fmt.Sprintf(format, args...)}}
	}
	if !s.IsSecretAppKey() {
		return bad("app-private-key: want a secret: URI whose key private-key holds the App's key (juju add-secret <name> private-key#file=<key.pem>)")
	}
	uri := string(s.AppPrivateKey)
	value, err := j.SecretValue(ctx, uri, appKeySecretKey)
	var te *juju.ToolError
	switch {
	case errors.As(err, &te):
		hint := ""
		if errors.Is(err, juju.ErrPermissionDenied) {
			hint = " (grant it with juju grant-secret)"
		}
		return bad("app-private-key: cannot read secret %s: %s%s", uri, te.Message, hint)
	case err != nil:
		return &appKeyProblem{err: fmt.Errorf("cannot read the App key secret: %w", err)}
	case strings.TrimSpace(value) == "":
		return bad("app-private-key: secret %s holds no %s", uri, appKeySecretKey)
	}
	if err := pool.CheckAppKey(value); err != nil {
		return bad("%s", err.Error())
	}
	s.AppKeySecret, s.AppPrivateKey = uri, pool.Token(value)
	return nil
}

// appKeySecretKey is the content key of the App key's secret.
const appKeySecretKey = "private-key"

// problemsError is problems as a *config.Error, or nil.
func problemsError(problems []config.Problem) error {
	if len(problems) == 0 {
		return nil
	}
	return &config.Error{Problems: problems}
}
