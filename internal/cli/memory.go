package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"charm.example/github-runner/internal/atomicfile"
	"charm.example/github-runner/internal/pool"
)

// fileMemory is the pool's memory for the command line: two files in the
// state folder, readable by their owner only, so that a run after a label
// or credentials change replaces the runners exactly as the charm does.
type fileMemory struct {
	dir string
}

const (
	appliedFile     = "applied.json"
	credentialsFile = "github-credentials.json"
)

// storedCredentials is pool.Credentials on disk.
type storedCredentials struct {
	Path   string `json:"path"`
	Token  string `json:"token"`
	APIURL string `json:"api-url"`
	// App is pool.Credentials.App: the App installation's identity, never
	// its key.
	App string `json:"app,omitempty"`
}

func (m fileMemory) read(name string, v any) (bool, error) {
	data, err := os.ReadFile(filepath.Join(m.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read %s: %w", name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		// A file that cannot be read is taken as none: the next run
		// writes it anew.
		return false, nil
	}
	return true, nil
}

func (m fileMemory) write(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(m.dir, name), data, 0o600); err != nil {
		return fmt.Errorf("cannot write %s: %w", name, err)
	}
	return nil
}

// Applied implements pool.Memory.
func (m fileMemory) Applied(context.Context) (*pool.Applied, error) {
	var a pool.Applied
	ok, err := m.read(appliedFile, &a)
	if !ok {
		return nil, err
	}
	return &a, nil
}

// SaveApplied implements pool.Memory.
func (m fileMemory) SaveApplied(_ context.Context, a pool.Applied) error {
	return m.write(appliedFile, a)
}

// Credentials implements pool.Memory.
func (m fileMemory) Credentials(context.Context) (*pool.Credentials, error) {
	var sc storedCredentials
	ok, err := m.read(credentialsFile, &sc)
	if !ok {
		return nil, err
	}
	return &pool.Credentials{Path: sc.Path, Token: pool.Token(sc.Token), APIURL: sc.APIURL, App: sc.App}, nil
}

// SaveCredentials implements pool.Memory.
func (m fileMemory) SaveCredentials(_ context.Context, c pool.Credentials) error {
	return m.write(credentialsFile, storedCredentials{Path: c.Path, Token: c.Token.Reveal(), APIURL: c.APIURL, App: c.App})
}
