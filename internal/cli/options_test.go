package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/juju/charm/v12"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/hooks"
)

// The command line's defaults are config.yaml's, and it offers every
// option that matters outside Juju.
func TestDefaultsMatchConfigYAML(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "config.yaml"))
	require.NoError(t, err)
	defer f.Close()
	cfg, err := charm.ReadConfig(f)
	require.NoError(t, err)
	want := map[string]any{}
	for name, v := range cfg.DefaultSettings() {
		if name == "token" {
			continue
		}
		if n, ok := v.(int64); ok {
			v = int(n)
		}
		want[name] = v
	}
	require.Equal(t, want, Defaults())
	flagged := map[string]bool{}
	for _, o := range options() {
		flagged[o.name] = true
	}
	for name := range cfg.Options {
		if _, fixed := fixedOptions()[name]; !fixed && name != "token" {
			require.True(t, flagged[name], "option %s has no flag", name)
		}
	}
}

func parse(t *testing.T, args []string, env map[string]string) (*settings, hooks.Config, error) {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	s := &settings{}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s.addFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return s, hooks.Config{}, err
	}
	cfg, err := s.config(getenv)
	return s, cfg, err
}

func TestSettings(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("ghp_fromfile\n"), 0o600))

	t.Run("flags over environment over defaults", func(t *testing.T) {
		s, cfg, err := parse(t, []string{"--path", "acme/web", "--virtual-machines", "4", "--labels", "gpu"},
			map[string]string{"GITHUB_RUNNER_TOKEN": "ghp_env", "GITHUB_RUNNER_VIRTUAL_MACHINES": "2",
				"GITHUB_RUNNER_VM_MEMORY": "2GiB", "GITHUB_RUNNER_APP": "ci-runners"})
		require.NoError(t, err)
		require.Equal(t, "acme/web", cfg.Path)
		require.Equal(t, "ghp_env", cfg.Token.Reveal())
		require.Equal(t, 4, cfg.VirtualMachines)
		require.Equal(t, "2GiB", cfg.VMMemory)
		require.Equal(t, "gpu", cfg.Labels)
		require.Equal(t, "virtual-machine", cfg.InstanceType)
		require.Equal(t, "ci-runners", s.app)
		require.Equal(t, DefaultStateDir, s.stateDir)
	})
	t.Run("token from a file", func(t *testing.T) {
		_, cfg, err := parse(t, []string{"--path", "acme", "--token-file", tokenFile}, map[string]string{"GITHUB_RUNNER_TOKEN": "ghp_env"})
		require.NoError(t, err)
		require.Equal(t, "ghp_fromfile", cfg.Token.Reveal())
	})
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "token as an argument", args: []string{"--token", "ghp_x"}, want: errTokenOnCommandLine.Error()},
		{name: "no token", args: []string{"--path", "acme"}, want: "invalid configuration"},
		{name: "not a number", args: []string{"--path", "acme", "--vm-cpu", "two"}, env: map[string]string{"GITHUB_RUNNER_TOKEN": "t"},
			want: `vm-cpu "two": want a whole number`},
		{name: "bad size from the environment", args: []string{"--path", "acme"}, env: map[string]string{"GITHUB_RUNNER_TOKEN": "t", "GITHUB_RUNNER_VM_DISK": "lots"},
			want: `vm-disk "lots": not a size`},
		{name: "a secret URI", args: []string{"--path", "acme"}, env: map[string]string{"GITHUB_RUNNER_TOKEN": "secret:0123456789abcdefghij"},
			want: "token: a Juju secret URI works only in the charm"},
		{name: "missing token file", args: []string{"--path", "acme", "--token-file", "/nonexistent/token"}, want: "cannot read the token file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parse(t, tc.args, tc.env)
			require.Error(t, err)
			require.Contains(t, fmt.Sprint(describe(err)), tc.want)
		})
	}
}
