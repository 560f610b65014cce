package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/pool"
)

// EnvPrefix starts the environment variable of every option and flag:
// GITHUB_RUNNER_PATH for `path`, GITHUB_RUNNER_VM_MEMORY for `vm-memory`.
const EnvPrefix = "GITHUB_RUNNER_"

// EnvName is the environment variable of an option or flag.
func EnvName(option string) string { return config.EnvName(EnvPrefix, option) }

// DefaultStateDir is where the command line keeps the runner application
// and its lock unless --state-dir says otherwise.
const DefaultStateDir = "/var/lib/github-runner"

// settings are what every command reads: the options and whose runners to
// manage.
type settings struct {
	schema    *config.Schema
	values    map[string]any
	tokenFile string
	keyFile   string // the GitHub App's private key
	stateDir  string
	app, unit string
	model     string
	format    string
	verbose   bool
}

// errTokenOnCommandLine refuses a token given as an argument.
var errTokenOnCommandLine = errors.New("a token on the command line shows in the process list: set GITHUB_RUNNER_TOKEN or use --token-file")

// errKeyOnCommandLine refuses an App key given as an argument.
var errKeyOnCommandLine = errors.New("a key on the command line shows in the process list: use --app-private-key-file")

// addFlags defines on fs a flag for every option of config.yaml but the
// token (with its environment variable and default), and the command
// line's own flags.
func (s *settings) addFlags(fs *flag.FlagSet, getenv func(string) string) {
	s.schema = pool.Schema()
	s.values = s.schema.AddFlags(fs, getenv, EnvPrefix, "token", "app-private-key")
	fs.Func("token", "not accepted: set GITHUB_RUNNER_TOKEN or use --token-file", func(string) error {
		return errTokenOnCommandLine
	})
	s.tokenFile = getenv(EnvName("token-file"))
	fs.StringVar(&s.tokenFile, "token-file", s.tokenFile, "file holding the GitHub token (env "+EnvName("token-file")+"; or set "+EnvName("token")+")")
	fs.Func("app-private-key", "not accepted: use --app-private-key-file", func(string) error {
		return errKeyOnCommandLine
	})
	s.keyFile = getenv(EnvName("app-private-key-file"))
	fs.StringVar(&s.keyFile, "app-private-key-file", s.keyFile, "file holding the GitHub App's private key, the PEM GitHub gave, with --app-id and --app-installation-id instead of a token (env "+EnvName("app-private-key-file")+")")
	s.stateDir = orDefault(getenv(EnvName("state-dir")), DefaultStateDir)
	fs.StringVar(&s.stateDir, "state-dir", s.stateDir, "folder of the runner application, the lock and what the last run applied (env "+EnvName("state-dir")+"); a charm unit's is /var/lib/juju/agents/unit-<app>-<n>/github-runner-state")
	s.app = orDefault(getenv(EnvName("app")), "github-runner")
	fs.StringVar(&s.app, "app", s.app, "Juju application whose runners to manage (env "+EnvName("app")+")")
	s.unit = getenv(EnvName("unit"))
	fs.StringVar(&s.unit, "unit", s.unit, "unit whose runners to manage, <app>/<n> (env "+EnvName("unit")+", default <app>/0)")
	s.model = getenv(EnvName("model"))
	fs.StringVar(&s.model, "model", s.model, "UUID of the Juju model of that unit, part of its runners' names (env "+EnvName("model")+"; empty outside Juju)")
	fs.StringVar(&s.format, "format", "text", "output: text or json")
	fs.BoolVar(&s.verbose, "v", false, "log debug lines to stderr")
}

// config turns the flags and environment into valid settings. Problems
// are a *config.Error.
func (s *settings) config(getenv func(string) string) (pool.Settings, error) {
	token, err := s.token(getenv)
	if err != nil {
		return pool.Settings{}, err
	}
	values := make(map[string]any, len(s.values)+1)
	for k, v := range s.values {
		values[k] = v
	}
	values["token"] = token
	if s.keyFile != "" {
		data, err := os.ReadFile(s.keyFile)
		if err != nil {
			return pool.Settings{}, fmt.Errorf("cannot read the App key file: %w", err)
		}
		values["app-private-key"] = string(data)
	}
	cfg, err := pool.Load(values)
	var problems []config.Problem
	if strings.HasPrefix(token, "secret:") {
		problems = append(problems, config.Problem{Option: "token", Text: "token: a Juju secret URI works only in the charm; give the token itself"})
	}
	var cerr *config.Error
	if errors.As(err, &cerr) {
		problems = append(problems, cerr.Problems...)
	}
	if len(problems) > 0 {
		return cfg, &config.Error{Problems: problems}
	}
	return cfg, nil
}

// token reads the token from --token-file or GITHUB_RUNNER_TOKEN.
func (s *settings) token(getenv func(string) string) (string, error) {
	if s.tokenFile != "" {
		data, err := os.ReadFile(s.tokenFile)
		if err != nil {
			return "", fmt.Errorf("cannot read the token file: %w", err)
		}
		return strings.TrimSpace(string(data)), nil
	}
	return strings.TrimSpace(getenv(EnvName("token"))), nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
