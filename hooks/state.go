package hooks

import (
	"context"
	"encoding/json"
	"fmt"
)

// Charm state keys (state-set). The controller keeps them per unit and
// commits a hook's writes only when the hook succeeds.
const (
	// stateCredentials holds the GitHub credentials the runners were last
	// registered with, so that a change can flush them with the old ones.
	stateCredentials = "github-credentials"
	// stateApplied holds what the runners and the image were last made of.
	stateApplied = "applied"
)

// credentials are the GitHub settings runners are registered with. The
// token prints as "<redacted>".
type credentials struct {
	Path   string
	Token  Token
	APIURL string
}

func credentialsOf(cfg Config) credentials {
	return credentials{Path: cfg.Path, Token: cfg.Token, APIURL: cfg.GitHubAPIURL}
}

// storedCredentials is credentials as kept in the charm state: the only
// place the token is written in full.
type storedCredentials struct {
	Path   string `json:"path"`
	Token  string `json:"token"`
	APIURL string `json:"api-url"`
}

// applied is what the unit last made its runners and image of.
type applied struct {
	Registration string `json:"registration"`
	RunnerSpec   string `json:"runner-spec"`
	ImageSpec    string `json:"image-spec"`
	// TimerDir and CronDir are where the periodic jobs were written.
	TimerDir string `json:"timer-directory"`
	CronDir  string `json:"cron-directory"`
}

// remembered is the unit's charm state, decoded.
type remembered struct {
	creds    *credentials
	applied  *applied
	problems []string // undecodable keys, ignored
}

func loadRemembered(ctx context.Context, j Juju) (remembered, error) {
	m, err := j.State(ctx)
	if err != nil {
		return remembered{}, fmt.Errorf("cannot read the charm state: %w", err)
	}
	var r remembered
	if raw := m[stateCredentials]; raw != "" {
		var sc storedCredentials
		if err := json.Unmarshal([]byte(raw), &sc); err != nil {
			r.problems = append(r.problems, stateCredentials)
		} else {
			r.creds = &credentials{Path: sc.Path, Token: Token(sc.Token), APIURL: sc.APIURL}
		}
	}
	if raw := m[stateApplied]; raw != "" {
		var a applied
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			r.problems = append(r.problems, stateApplied)
		} else {
			r.applied = &a
		}
	}
	return r, nil
}

func saveCredentials(ctx context.Context, j Juju, c credentials) error {
	data, err := json.Marshal(storedCredentials{Path: c.Path, Token: c.Token.Reveal(), APIURL: c.APIURL})
	if err != nil {
		return err
	}
	if err := j.StateSet(ctx, map[string]string{stateCredentials: string(data)}); err != nil {
		return fmt.Errorf("cannot store the GitHub credentials in the charm state: %w", err)
	}
	return nil
}

func saveApplied(ctx context.Context, j Juju, a applied) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := j.StateSet(ctx, map[string]string{stateApplied: string(data)}); err != nil {
		return fmt.Errorf("cannot store the charm state: %w", err)
	}
	return nil
}

func forgetState(ctx context.Context, j Juju) error {
	for _, k := range []string{stateCredentials, stateApplied} {
		if err := j.StateDelete(ctx, k); err != nil {
			return fmt.Errorf("cannot clear the charm state: %w", err)
		}
	}
	return nil
}
