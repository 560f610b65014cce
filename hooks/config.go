package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/runners"
)

// Token is a GitHub token. It prints, logs and marshals as "<redacted>",
// so it cannot reach a log line, a status or an error by accident; Reveal
// gives the value to the one place that sends it to GitHub.
type Token string

const redacted = "<redacted>"

// Reveal returns the token itself.
func (t Token) Reveal() string { return string(t) }

// String implements fmt.Stringer: "<redacted>", or "" for no token.
func (t Token) String() string {
	if t == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer.
func (t Token) GoString() string { return strconv.Quote(t.String()) }

// LogValue implements slog.LogValuer.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// MarshalText implements encoding.TextMarshaler.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Config is the charm's configuration, one field per option of
// config.yaml. Parse it with ParseConfig and check it with Validate, or do
// both and resolve a secret token with LoadConfig.
type Config struct {
	Path                string // `acme` or `owner/repo`
	Token               Token  // the token, once LoadConfig resolved a secret
	TokenSecret         string // the secret: URI the token came from, if any
	Group               string
	VirtualMachines     int
	VMCPU               int
	VMMemory            string
	VMDisk              string
	ReconcileInterval   int // minutes
	Labels              string
	BaseImage           string
	ImageServer         string
	ImagePackages       string
	InstanceType        string
	GitHubAPIURL        string
	DockerHubMirror     string
	LXDSocket           string
	LXDProfiles         string
	BootstrapTimeout    int // minutes
	MaxParallelLaunches int
	TimerDirectory      string
	CronDirectory       string
	ReconcileOnExit     bool

	// typeProblems are options whose value had the wrong type.
	typeProblems []Problem
}

// Instance types.
const (
	VirtualMachine = "virtual-machine"
	Container      = "container"
)

// Problem is one bad option.
type Problem struct {
	// Option is the option's name.
	Option string
	// Text says what is wrong, starting with the option's name and (except
	// for the token) its value: `vm-memory "7XB": not a size ...`.
	Text string
}

// ConfigError lists the bad options. The dispatcher shows it as a Blocked
// status and never retries: only the operator can fix it.
type ConfigError struct {
	Problems []Problem
}

// Error joins the problems with "; ": the Blocked status message.
func (e *ConfigError) Error() string {
	texts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		texts[i] = p.Text
	}
	return strings.Join(texts, "; ")
}

// Options are the names of the bad options, in order.
func (e *ConfigError) Options() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Option
	}
	return out
}

// ParseConfig reads the map config-get gives (numbers as json.Number, or
// any Go number). It never fails: a value of the wrong type is kept as a
// problem that Validate reports.
func ParseConfig(m map[string]any) Config {
	var c Config
	str := func(name string) string {
		v, ok := m[name]
		if !ok || v == nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			c.typeProblems = append(c.typeProblems, Problem{name, fmt.Sprintf("%s: want a string", name)})
		}
		return s
	}
	num := func(name string) int {
		v, ok := m[name]
		if !ok || v == nil {
			return 0
		}
		n, err := toInt(v)
		if err != nil {
			c.typeProblems = append(c.typeProblems, Problem{name, fmt.Sprintf("%s %v: want a whole number", name, v)})
		}
		return n
	}
	boolean := func(name string, def bool) bool {
		v, ok := m[name]
		if !ok || v == nil {
			return def
		}
		b, ok := v.(bool)
		if !ok {
			c.typeProblems = append(c.typeProblems, Problem{name, fmt.Sprintf("%s %v: want true or false", name, v)})
			return def
		}
		return b
	}
	c.Path = strings.TrimSpace(str("path"))
	c.Token = Token(strings.TrimSpace(str("token")))
	c.Group = str("group")
	c.VirtualMachines = num("virtual-machines")
	c.VMCPU = num("vm-cpu")
	c.VMMemory = str("vm-memory")
	c.VMDisk = str("vm-disk")
	c.ReconcileInterval = num("reconcile-interval")
	c.Labels = str("labels")
	c.BaseImage = strings.TrimSpace(str("base-image"))
	c.ImageServer = strings.TrimSpace(str("image-server"))
	c.ImagePackages = str("image-packages")
	c.InstanceType = strings.TrimSpace(str("instance-type"))
	c.GitHubAPIURL = strings.TrimSpace(str("github-api-url"))
	c.DockerHubMirror = strings.TrimSpace(str("dockerhub-mirror"))
	c.LXDSocket = strings.TrimSpace(str("lxd-socket"))
	c.LXDProfiles = str("lxd-profiles")
	c.BootstrapTimeout = num("bootstrap-timeout")
	c.MaxParallelLaunches = num("max-parallel-launches")
	c.TimerDirectory = strings.TrimSpace(str("timer-directory"))
	c.CronDirectory = strings.TrimSpace(str("cron-directory"))
	c.ReconcileOnExit = boolean("reconcile-on-exit", true)
	return c
}

func toInt(v any) (int, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0, err
		}
		return clampInt(i)
	case int:
		return n, nil
	case int64:
		return clampInt(n)
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) {
			return 0, errors.New("not a whole number")
		}
		return clampInt(int64(n))
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

func clampInt(i int64) (int, error) {
	if i > math.MaxInt32 || i < math.MinInt32 {
		return 0, errors.New("out of range")
	}
	return int(i), nil
}

var (
	orgRe      = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)
	repoRe     = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	aliasRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,253}$`)
	profileRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	packageRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+|/[a-z0-9.-]+)?$`)
	secretURIs = regexp.MustCompile(`^secret:(?://[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/)?[0-9a-z]{20}$`)
)

// RemoteBaseImages are the base-image values fetched from image-server.
func RemoteBaseImages() []string { return []string{"jammy", "noble"} }

// IsSecretToken says whether the token option holds a secret URI.
func (c Config) IsSecretToken() bool {
	return strings.HasPrefix(string(c.Token), "secret:")
}

// IsRepository says whether Path names a repository (owner/repo) rather
// than an organisation.
func (c Config) IsRepository() bool { return strings.Contains(c.Path, "/") }

// Owner is the organisation, or the repository's owner.
func (c Config) Owner() string {
	owner, _, _ := strings.Cut(c.Path, "/")
	return owner
}

// Repo is the repository's name, or "" for an organisation.
func (c Config) Repo() string {
	_, repo, _ := strings.Cut(c.Path, "/")
	return repo
}

// Resources are each runner's CPU, memory and disk.
func (c Config) Resources() (runners.Resources, error) {
	mem, err := runners.ParseSize(c.VMMemory)
	if err != nil {
		return runners.Resources{}, err
	}
	disk, err := runners.ParseSize(c.VMDisk)
	if err != nil {
		return runners.Resources{}, err
	}
	return runners.Resources{CPU: c.VMCPU, Memory: mem, Disk: disk}, nil
}

// LabelList is the extra runner labels.
func (c Config) LabelList() ([]string, error) { return runners.ParseLabels(c.Labels) }

// ProfileList is the extra LXD profiles, in order.
func (c Config) ProfileList() []string { return splitList(c.LXDProfiles) }

// PackageList is the packages the image build installs.
func (c Config) PackageList() []string { return splitList(c.ImagePackages) }

// ReconcileEvery is the time between two reconciles.
func (c Config) ReconcileEvery() time.Duration {
	return time.Duration(c.ReconcileInterval) * time.Minute
}

// BootstrapWait is how long a new runner may take to come online.
func (c Config) BootstrapWait() time.Duration {
	return time.Duration(c.BootstrapTimeout) * time.Minute
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Validate checks every option and returns a *ConfigError with one
// problem per bad option, or nil. It needs no I/O: a secret token is only
// checked to be a well-formed URI (LoadConfig reads it).
func (c Config) Validate() error {
	problems := append([]Problem(nil), c.typeProblems...)
	bad := func(option string, format string, args ...any) {
		for _, p := range problems {
			if p.Option == option {
				return // one problem per option; a type problem comes first
			}
		}
		problems = append(problems, Problem{Option: option, Text: fmt.Sprintf(format, args...)})
	}

	switch {
	case c.Path == "":
		bad("path", "path: missing: set an organisation or owner/repo")
	case c.IsRepository():
		owner, repo, _ := strings.Cut(c.Path, "/")
		if !orgRe.MatchString(owner) || !repoRe.MatchString(repo) || repo == "." || repo == ".." {
			bad("path", "path %q: want an organisation (acme) or a repository (owner/repo)", c.Path)
		}
	case !orgRe.MatchString(c.Path):
		bad("path", "path %q: want an organisation (acme) or a repository (owner/repo)", c.Path)
	}

	switch {
	case c.Token == "":
		bad("token", "token: missing: set a GitHub token, or a secret: URI granted to the application")
	case c.IsSecretToken():
		if !secretURIs.MatchString(string(c.Token)) {
			bad("token", "token: not a valid secret URI (want secret:<id>)")
		}
	case strings.ContainsFunc(string(c.Token), func(r rune) bool { return r <= ' ' || r == 0x7f }):
		bad("token", "token: contains white space or control characters")
	}

	if !c.IsRepository() && strings.TrimSpace(c.Group) == "" {
		bad("group", "group: missing: set the organisation's runner group (default is \"default\")")
	}
	if c.VirtualMachines < 0 {
		bad("virtual-machines", "virtual-machines %d: at least 0", c.VirtualMachines)
	}
	if c.VMCPU < 1 {
		bad("vm-cpu", "vm-cpu %d: at least 1", c.VMCPU)
	}
	instanceOK := c.InstanceType == VirtualMachine || c.InstanceType == Container
	if !instanceOK {
		bad("instance-type", "instance-type %q: want %s or %s", c.InstanceType, VirtualMachine, Container)
	}
	for _, sz := range []struct {
		option, value string
		check         func(b int64) runners.Resources
	}{
		{"vm-memory", c.VMMemory, func(b int64) runners.Resources {
			return runners.Resources{CPU: 1, Memory: b, Disk: runners.MinDisk}
		}},
		{"vm-disk", c.VMDisk, func(b int64) runners.Resources {
			return runners.Resources{CPU: 1, Memory: runners.MinMemoryVM, Disk: b}
		}},
	} {
		b, err := runners.ParseSize(sz.value)
		if err != nil {
			bad(sz.option, "%s %q: not a size (use e.g. 512MiB or 7GiB)", sz.option, sz.value)
			continue
		}
		if !instanceOK {
			continue
		}
		if err := sz.check(b).Validate(c.InstanceType); err != nil {
			bad(sz.option, "%s %q: %v", sz.option, sz.value, err)
		}
	}
	if c.ReconcileInterval < 2 {
		bad("reconcile-interval", "reconcile-interval %d: at least 2 minutes", c.ReconcileInterval)
	}
	if _, err := runners.ParseLabels(c.Labels); err != nil {
		bad("labels", "labels %q: %v", c.Labels, err)
	}

	remote := false
	for _, b := range RemoteBaseImages() {
		remote = remote || c.BaseImage == b
	}
	if !remote && !aliasRe.MatchString(c.BaseImage) {
		bad("base-image", "base-image %q: want jammy, noble, or the alias of an image in the local LXD image store", c.BaseImage)
	}
	if remote && !isURL(c.ImageServer, "http", "https") {
		bad("image-server", "image-server %q: want the http(s) URL of a simplestreams server", c.ImageServer)
	}
	for _, p := range c.PackageList() {
		if !packageRe.MatchString(p) {
			bad("image-packages", "image-packages %q: %q is not a Debian package name", c.ImagePackages, p)
			break
		}
	}
	if c.GitHubAPIURL != "" && !isURL(c.GitHubAPIURL, "http", "https") {
		bad("github-api-url", "github-api-url %q: want an http(s) URL such as https://github.example.com/api/v3/, or empty for github.com", c.GitHubAPIURL)
	}
	if c.DockerHubMirror != "" && !isURL(c.DockerHubMirror, "https") {
		bad("dockerhub-mirror", "dockerhub-mirror %q: want an https URL, or empty for Docker Hub", c.DockerHubMirror)
	}
	if c.LXDSocket != "" && !filepath.IsAbs(c.LXDSocket) {
		bad("lxd-socket", "lxd-socket %q: want an absolute path, or empty to discover it", c.LXDSocket)
	}
	for _, p := range c.ProfileList() {
		if !profileRe.MatchString(p) {
			bad("lxd-profiles", "lxd-profiles %q: %q is not an LXD profile name", c.LXDProfiles, p)
			break
		}
	}
	if c.BootstrapTimeout < 1 {
		bad("bootstrap-timeout", "bootstrap-timeout %d: at least 1 minute", c.BootstrapTimeout)
	}
	if c.MaxParallelLaunches < 1 || c.MaxParallelLaunches > 32 {
		bad("max-parallel-launches", "max-parallel-launches %d: want 1 to 32", c.MaxParallelLaunches)
	}
	for _, d := range []struct{ option, value string }{
		{"timer-directory", c.TimerDirectory},
		{"cron-directory", c.CronDirectory},
	} {
		if !filepath.IsAbs(d.value) {
			bad(d.option, "%s %q: want an absolute path", d.option, d.value)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &ConfigError{Problems: problems}
}

func isURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return false
	}
	for _, sc := range schemes {
		if strings.EqualFold(u.Scheme, sc) {
			return true
		}
	}
	return false
}

// LoadConfig reads the configuration with config-get, validates it, and
// resolves a secret token (key `token` of the secret) with secret-get. Bad
// options, and a secret that cannot be read, give a *ConfigError naming
// them; a failure to talk to Juju is returned as is (a passing fault).
func LoadConfig(ctx context.Context, j Juju) (Config, error) {
	raw, err := j.Config(ctx)
	if err != nil {
		return Config{}, fmt.Errorf("cannot read the configuration: %w", err)
	}
	cfg := ParseConfig(raw)
	var problems []Problem
	var cerr *ConfigError
	if err := cfg.Validate(); errors.As(err, &cerr) {
		problems = cerr.Problems
	}
	tokenBad := false
	for _, p := range problems {
		tokenBad = tokenBad || p.Option == "token"
	}
	if cfg.IsSecretToken() && !tokenBad {
		uri := string(cfg.Token)
		value, err := j.SecretValue(ctx, uri, "token")
		var te *juju.ToolError
		switch {
		case errors.As(err, &te):
			hint := ""
			if errors.Is(err, juju.ErrPermissionDenied) {
				hint = " (grant it with juju grant-secret)"
			}
			problems = append(problems, Problem{"token", fmt.Sprintf("token: cannot read secret %s: %s%s", uri, te.Message, hint)})
		case err != nil:
			return cfg, fmt.Errorf("cannot read the token secret: %w", err)
		case strings.TrimSpace(value) == "":
			problems = append(problems, Problem{"token", fmt.Sprintf("token: secret %s holds an empty token", uri)})
		default:
			cfg.TokenSecret, cfg.Token = uri, Token(strings.TrimSpace(value))
		}
	}
	if len(problems) > 0 {
		return cfg, &ConfigError{Problems: problems}
	}
	return cfg, nil
}
