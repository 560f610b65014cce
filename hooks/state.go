package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/pool"
)

// Charm state keys (state-set). The controller keeps them per unit and
// commits a hook's writes only when the hook succeeds.
const (
	// stateCredentials holds where the runners were last registered (path,
	// API URL) and the URI of the unit-owned Juju secret that holds the
	// token, so that a change can flush them with the old credentials.
	// Charm state is no secret store: the token is only in the secret.
	stateCredentials = "github-credentials"
	// credentialsLabel is that secret's label; tokenKey its content key.
	credentialsLabel = "github-runner-credentials"
	tokenKey         = "token"
	// stateApplied holds what the runners and the image were last made of.
	stateApplied = "applied"
)

// storedCredentials is pool.Credentials as kept in the charm state: the
// token is in the secret Secret names. Token is only read, from the state
// of a charm version that kept it there.
type storedCredentials struct {
	Path   string `json:"path"`
	Token  string `json:"token,omitempty"`
	APIURL string `json:"api-url"`
	// App is pool.Credentials.App: the App installation's identity, never
	// its key.
	App    string `json:"app,omitempty"`
	Secret string `json:"secret,omitempty"`
}

// charmMemory is the pool's memory in the unit's charm state. It reads
// the state once and keeps what it wrote, so a hook sees its own writes.
type charmMemory struct {
	j      Juju
	log    *slog.Logger
	loaded bool
	creds  *pool.Credentials
	apply  *pool.Applied
	// secret is the URI of the unit's credentials secret, "" if none yet.
	secret string
}

func (m *charmMemory) load(ctx context.Context) error {
	if m.loaded {
		return nil
	}
	st, err := m.j.State(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the charm state: %w", err)
	}
	if raw := st[stateCredentials]; raw != "" {
		var sc storedCredentials
		if err := json.Unmarshal([]byte(raw), &sc); err != nil {
			m.log.Warn("ignoring an unreadable charm state value", "key", stateCredentials)
		} else if err := m.loadCredentials(ctx, sc); err != nil {
			return err
		}
	}
	if raw := st[stateApplied]; raw != "" {
		var a pool.Applied
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			m.log.Warn("ignoring an unreadable charm state value", "key", stateApplied)
		} else {
			m.apply = &a
		}
	}
	m.loaded = true
	return nil
}

// loadCredentials reads the token from the credentials secret; a token
// left in the state by an older charm version moves into a secret now.
func (m *charmMemory) loadCredentials(ctx context.Context, sc storedCredentials) error {
	c := pool.Credentials{Path: sc.Path, APIURL: sc.APIURL, App: sc.App}
	switch {
	case sc.Secret != "":
		tok, err := m.j.SecretValue(ctx, sc.Secret, tokenKey)
		if errors.Is(err, juju.ErrNotFound) {
			m.log.Warn("the GitHub credentials secret is gone; old runners cannot be flushed with the old token")
			return nil
		}
		if err != nil {
			return fmt.Errorf("cannot read the GitHub credentials secret: %w", err)
		}
		c.Token = pool.Token(tok)
		m.secret = sc.Secret
	case sc.Token != "":
		c.Token = pool.Token(sc.Token)
		if err := m.saveCredentials(ctx, c); err != nil {
			return err
		}
	}
	m.creds = &c
	return nil
}

// Applied implements pool.Memory.
func (m *charmMemory) Applied(ctx context.Context) (*pool.Applied, error) {
	if err := m.load(ctx); err != nil {
		return nil, err
	}
	return m.apply, nil
}

// SaveApplied implements pool.Memory.
func (m *charmMemory) SaveApplied(ctx context.Context, a pool.Applied) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := m.j.StateSet(ctx, map[string]string{stateApplied: string(data)}); err != nil {
		return fmt.Errorf("cannot store the charm state: %w", err)
	}
	m.apply = &a
	return nil
}

// Credentials implements pool.Memory.
func (m *charmMemory) Credentials(ctx context.Context) (*pool.Credentials, error) {
	if err := m.load(ctx); err != nil {
		return nil, err
	}
	return m.creds, nil
}

// SaveCredentials implements pool.Memory: the token in a Juju secret the
// unit owns (a new revision of it after the first time), the rest and the
// secret's URI in the charm state.
func (m *charmMemory) SaveCredentials(ctx context.Context, c pool.Credentials) error {
	if err := m.load(ctx); err != nil {
		return err
	}
	return m.saveCredentials(ctx, c)
}

func (m *charmMemory) saveCredentials(ctx context.Context, c pool.Credentials) error {
	content := map[string]string{tokenKey: c.Token.Reveal()}
	if m.secret != "" {
		err := m.j.SecretSet(ctx, m.secret, content)
		if errors.Is(err, juju.ErrNotFound) {
			m.secret = ""
		} else if err != nil {
			return fmt.Errorf("cannot store the GitHub credentials in their secret: %w", err)
		}
	}
	if m.secret == "" {
		uri, err := m.j.SecretAdd(ctx, juju.SecretAddOptions{Owner: "unit", Label: credentialsLabel}, content)
		if err != nil {
			return fmt.Errorf("cannot store the GitHub credentials in a secret: %w", err)
		}
		m.secret = uri
	}
	data, err := json.Marshal(storedCredentials{Path: c.Path, APIURL: c.APIURL, App: c.App, Secret: m.secret})
	if err != nil {
		return err
	}
	if err := m.j.StateSet(ctx, map[string]string{stateCredentials: string(data)}); err != nil {
		return fmt.Errorf("cannot store the GitHub credentials in the charm state: %w", err)
	}
	m.creds = &c
	return nil
}

// forget clears the charm state and removes the credentials secret.
func (m *charmMemory) forget(ctx context.Context) error {
	if err := m.load(ctx); err != nil {
		return err
	}
	if m.secret != "" {
		if err := m.j.SecretRemove(ctx, m.secret); err != nil && !errors.Is(err, juju.ErrNotFound) {
			return fmt.Errorf("cannot remove the GitHub credentials secret: %w", err)
		}
		m.secret = ""
	}
	for _, k := range []string{stateCredentials, stateApplied} {
		if err := m.j.StateDelete(ctx, k); err != nil {
			return fmt.Errorf("cannot clear the charm state: %w", err)
		}
	}
	m.creds, m.apply = nil, nil
	return nil
}
