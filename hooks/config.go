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
	return s, problemsError(problems)
}

// problemsError is problems as a *config.Error, or nil.
func problemsError(problems []config.Problem) error {
	if len(problems) == 0 {
		return nil
	}
	return &config.Error{Problems: problems}
}
