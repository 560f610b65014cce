package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"charm.example/github-runner/internal/pool"
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

// storedCredentials is pool.Credentials as kept in the charm state.
type storedCredentials struct {
	Path   string `json:"path"`
	Token  string `json:"token"`
	APIURL string `json:"api-url"`
	// App is pool.Credentials.App: the App installation's identity, never
	// its key.
	App string `json:"app,omitempty"`
}

// charmMemory is the pool's memory in the unit's charm state. It reads
// the state once and keeps what it wrote, so a hook sees its own writes.
type charmMemory struct {
	j      Juju
	log    *slog.Logger
	loaded bool
	creds  *pool.Credentials
	apply  *pool.Applied
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
		} else {
			m.creds = &pool.Credentials{Path: sc.Path, Token: pool.Token(sc.Token), APIURL: sc.APIURL, App: sc.App}
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

// SaveCredentials implements pool.Memory.
func (m *charmMemory) SaveCredentials(ctx context.Context, c pool.Credentials) error {
	data, err := json.Marshal(storedCredentials{Path: c.Path, Token: c.Token.Reveal(), APIURL: c.APIURL, App: c.App})
	if err != nil {
		return err
	}
	if err := m.j.StateSet(ctx, map[string]string{stateCredentials: string(data)}); err != nil {
		return fmt.Errorf("cannot store the GitHub credentials in the charm state: %w", err)
	}
	m.creds = &c
	return nil
}

// forget clears the charm state.
func (m *charmMemory) forget(ctx context.Context) error {
	for _, k := range []string{stateCredentials, stateApplied} {
		if err := m.j.StateDelete(ctx, k); err != nil {
			return fmt.Errorf("cannot clear the charm state: %w", err)
		}
	}
	m.creds, m.apply = nil, nil
	return nil
}
