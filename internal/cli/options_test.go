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

	"charm.example/github-runner/internal/pool"
)

// Every option of config.yaml but the token is a flag with its
// environment variable, and its default is config.yaml's.
func TestFlagsFromConfigYAML(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "config.yaml"))
	require.NoError(t, err)
	defer f.Close()
	cfg, err := charm.ReadConfig(f)
	require.NoError(t, err)
	s := &settings{}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	s.addFlags(fs, func(string) string { return "" })
	for name, opt := range cfg.Options {
		fl := fs.Lookup(name)
		require.NotNil(t, fl, "option %s has no flag", name)
		if name == "token" || name == "app-private-key" {
			require.Contains(t, fl.Usage, "not accepted")
			continue
		}
		require.Contains(t, fl.Usage, EnvName(name))
		def := fmt.Sprint(opt.Default)
		if def == "" {
			def = `""`
		}
		require.Contains(t, fl.Usage, "default "+def, name)
	}
	// With nothing given, the settings are config.yaml's defaults.
	_, got, err := parse(t, []string{"--path", "acme"}, map[string]string{"GITHUB_RUNNER_TOKEN": "t"})
	require.NoError(t, err)
	want := pool.Decode(map[string]any{"path": "acme", "token": "t"})
	require.Equal(t, want, got)
}

func parse(t *testing.T, args []string, env map[string]string) (*settings, pool.Settings, error) {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	s := &settings{}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s.addFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return s, pool.Settings{}, err
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
