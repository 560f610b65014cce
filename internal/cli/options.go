package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"charm.example/github-runner/hooks"
)

// option is a charm option the command line offers as a flag and an
// environment variable.
type option struct {
	name  string // config.yaml's name, and the flag's
	isInt bool
	def   any // string or int: config.yaml's default
	usage string
}

// EnvPrefix starts the environment variable of every option:
// GITHUB_RUNNER_PATH for `path`, GITHUB_RUNNER_VM_MEMORY for `vm-memory`.
const EnvPrefix = "GITHUB_RUNNER_"

// EnvName is the environment variable of an option or flag.
func EnvName(option string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(option, "-", "_"))
}

// options are the charm options that matter outside Juju, with
// config.yaml's defaults (a test keeps them in step). The token is not
// among them: it comes from GITHUB_RUNNER_TOKEN or --token-file only.
func options() []option {
	return []option{
		{name: "path", def: "", usage: "organisation (acme) or repository (owner/repo) the runners register with"},
		{name: "group", def: "default", usage: "organisation runner group"},
		{name: "virtual-machines", isInt: true, def: 1, usage: "how many runners to keep"},
		{name: "vm-cpu", isInt: true, def: 2, usage: "CPU cores per runner"},
		{name: "vm-memory", def: "7GiB", usage: "memory per runner (512MiB, 7GiB, ...)"},
		{name: "vm-disk", def: "10GiB", usage: "root disk size per runner"},
		{name: "labels", def: "", usage: "extra runner labels, comma-separated"},
		{name: "base-image", def: "jammy", usage: "jammy, noble, or a local LXD image alias the runner image is built from"},
		{name: "image-server", def: "https://cloud-images.ubuntu.com/releases", usage: "simplestreams server of jammy and noble"},
		{name: "image-packages", def: "docker.io,npm,python3-pip,shellcheck,jq,wget,unzip,git,build-essential", usage: "packages the image build installs, comma-separated"},
		{name: "instance-type", def: "virtual-machine", usage: "virtual-machine or container"},
		{name: "github-api-url", def: "", usage: "GitHub REST API URL (empty: github.com)"},
		{name: "dockerhub-mirror", def: "", usage: "https URL of a Docker Hub mirror for the runners"},
		{name: "lxd-socket", def: "", usage: "LXD unix socket (empty: LXD_SOCKET, LXD_DIR, the snap's, Debian's)"},
		{name: "lxd-profiles", def: "", usage: "extra LXD profiles for every runner, comma-separated"},
		{name: "bootstrap-timeout", isInt: true, def: 10, usage: "minutes a new runner may take to come online"},
		{name: "max-parallel-launches", isInt: true, def: 10, usage: "runners created or removed at once (1 to 32)"},
	}
}

// fixedOptions are options the command line does not use (they drive the
// charm's timer); they keep config.yaml's defaults so that validation
// passes.
func fixedOptions() map[string]any {
	return map[string]any{
		"reconcile-interval": 10,
		"timer-directory":    "/etc/systemd/system",
		"cron-directory":     "/etc/cron.d",
		"reconcile-on-exit":  true,
	}
}

// Defaults are the command line's option defaults by config.yaml name.
func Defaults() map[string]any {
	m := fixedOptions()
	for _, o := range options() {
		m[o.name] = o.def
	}
	return m
}

// DefaultStateDir is where the command line keeps the runner application
// and its lock unless --state-dir says otherwise.
const DefaultStateDir = "/var/lib/github-runner"

// settings are what every command reads: the configuration and whose
// runners to manage.
type settings struct {
	values    map[string]any
	tokenFile string
	stateDir  string
	app, unit string
	format    string
	verbose   bool
}

// errTokenOnCommandLine refuses a token given as an argument.
var errTokenOnCommandLine = errors.New("a token on the command line shows in the process list: set GITHUB_RUNNER_TOKEN or use --token-file")

// addFlags defines the common flags on fs, with defaults from the
// environment (getenv) over config.yaml's.
func (s *settings) addFlags(fs *flag.FlagSet, getenv func(string) string) {
	s.values = Defaults()
	for _, o := range options() {
		o := o
		if v := getenv(EnvName(o.name)); v != "" {
			s.values[o.name] = v // checked after parsing, with the flags
		}
		usage := fmt.Sprintf("%s (env %s, default %v)", o.usage, EnvName(o.name), o.def)
		fs.Func(o.name, usage, func(v string) error {
			s.values[o.name] = v
			return nil
		})
	}
	fs.Func("token", "not accepted: set GITHUB_RUNNER_TOKEN or use --token-file", func(string) error {
		return errTokenOnCommandLine
	})
	s.tokenFile = getenv(EnvName("token-file"))
	fs.StringVar(&s.tokenFile, "token-file", s.tokenFile, "file holding the GitHub token (env "+EnvName("token-file")+"; or set "+EnvName("token")+")")
	s.stateDir = orDefault(getenv(EnvName("state-dir")), DefaultStateDir)
	fs.StringVar(&s.stateDir, "state-dir", s.stateDir, "folder of the runner application and the lock (env "+EnvName("state-dir")+"); a charm unit's is /var/lib/juju/agents/unit-<app>-<n>/github-runner-state")
	s.app = orDefault(getenv(EnvName("app")), "github-runner")
	fs.StringVar(&s.app, "app", s.app, "Juju application whose runners to manage (env "+EnvName("app")+")")
	s.unit = getenv(EnvName("unit"))
	fs.StringVar(&s.unit, "unit", s.unit, "unit whose runners to manage, <app>/<n> (env "+EnvName("unit")+", default <app>/0)")
	fs.StringVar(&s.format, "format", "text", "output: text or json")
	fs.BoolVar(&s.verbose, "v", false, "log debug lines to stderr")
}

// config turns the settings into a valid charm configuration. Problems are
// a *hooks.ConfigError.
func (s *settings) config(getenv func(string) string) (hooks.Config, error) {
	m := make(map[string]any, len(s.values)+1)
	var problems []hooks.Problem
	for _, o := range options() {
		v := s.values[o.name]
		if str, ok := v.(string); ok && o.isInt {
			n, err := strconv.Atoi(strings.TrimSpace(str))
			if err != nil {
				problems = append(problems, hooks.Problem{Option: o.name, Text: fmt.Sprintf("%s %q: want a whole number", o.name, str)})
				continue
			}
			v = n
		}
		m[o.name] = v
	}
	for k, v := range fixedOptions() {
		m[k] = v
	}
	token, err := s.token(getenv)
	if err != nil {
		return hooks.Config{}, err
	}
	m["token"] = token
	cfg := hooks.ParseConfig(m)
	if strings.HasPrefix(token, "secret:") {
		problems = append(problems, hooks.Problem{Option: "token", Text: "token: a Juju secret URI works only in the charm; give the token itself"})
	}
	var cerr *hooks.ConfigError
	if err := cfg.Validate(); errors.As(err, &cerr) {
		problems = append(problems, cerr.Problems...)
	}
	if len(problems) > 0 {
		return cfg, &hooks.ConfigError{Problems: problems}
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
