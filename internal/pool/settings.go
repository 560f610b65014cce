package pool

import (
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	githubrunner "charm.example/github-runner"
	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/github"
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

// Settings are the unit's settings: one field per option of config.yaml,
// tagged with the option's name. config.yaml alone says each option's type,
// default and description; Decode fills the struct from it.
type Settings struct {
	Path                string `option:"path"`  // `acme` or `owner/repo`
	Token               Token  `option:"token"` // the token, or a secret: URI until the charm resolves it
	AppID               int    `option:"app-id"`
	AppInstallationID   int    `option:"app-installation-id"`
	AppPrivateKey       Token  `option:"app-private-key"` // the PEM, or a secret: URI until the charm resolves it
	Group               string `option:"group"`
	VirtualMachines     int    `option:"virtual-machines"`
	VMCPU               int    `option:"vm-cpu"`
	VMMemory            string `option:"vm-memory"`
	VMDisk              string `option:"vm-disk"`
	ReconcileInterval   int    `option:"reconcile-interval"` // minutes
	Labels              string `option:"labels"`
	BaseImage           string `option:"base-image"`
	ImageServer         string `option:"image-server"`
	ImagePackages       string `option:"image-packages"`
	InstanceType        string `option:"instance-type"`
	GitHubAPIURL        string `option:"github-api-url"`
	DockerHubMirror     string `option:"dockerhub-mirror"`
	LXDSocket           string `option:"lxd-socket"`
	LXDProfiles         string `option:"lxd-profiles"`
	BootstrapTimeout    int    `option:"bootstrap-timeout"` // minutes
	MaxParallelLaunches int    `option:"max-parallel-launches"`
	ReconcileOnExit     bool   `option:"reconcile-on-exit"`
	MetricsPort         int    `option:"metrics-port"`
	TimerDirectory      string `option:"timer-directory"`
	CronDirectory       string `option:"cron-directory"`
	RunnerHTTPProxy     string `option:"runner-http-proxy"`
	RunnerHTTPSProxy    string `option:"runner-https-proxy"`
	RunnerNoProxy       string `option:"runner-no-proxy"`
	RunnerStorage       string `option:"runner-storage"`
	RunnerStorageSize   string `option:"runner-storage-size"`

	// TokenSecret is the secret: URI the token came from, if any.
	TokenSecret string
	// AppKeySecret is the secret: URI the App's private key came from, if
	// any.
	AppKeySecret string
	// decodeProblems are values Decode could not take.
	decodeProblems []config.Problem
}

// Schema is the charm's config.yaml, parsed.
func Schema() *config.Schema {
	s, err := config.ParseSchema(githubrunner.ConfigYAML())
	if err != nil {
		// config.yaml is part of the binary; a test parses it.
		panic(err)
	}
	return s
}

// Decode reads option values (config-get's map, or a command line's text)
// over config.yaml's defaults. It never fails on bad input: a value of the
// wrong type is kept as a problem that Validate reports first.
func Decode(values map[string]any) Settings {
	var s Settings
	problems, err := Schema().Decode(values, &s)
	if err != nil {
		panic(err) // Settings does not match config.yaml: a test catches it
	}
	s.decodeProblems = problems
	for _, f := range []*string{&s.Path, &s.BaseImage, &s.ImageServer, &s.InstanceType,
		&s.GitHubAPIURL, &s.DockerHubMirror, &s.LXDSocket, &s.TimerDirectory, &s.CronDirectory,
		&s.RunnerHTTPProxy, &s.RunnerHTTPSProxy, &s.RunnerNoProxy, &s.RunnerStorage, &s.RunnerStorageSize} {
		*f = strings.TrimSpace(*f)
	}
	s.Token = Token(strings.TrimSpace(string(s.Token)))
	s.AppPrivateKey = Token(strings.TrimSpace(string(s.AppPrivateKey)))
	return s
}

// Load decodes values and validates them: the one way the charm and the
// command line turn options into Settings. Problems are a *config.Error.
func Load(values map[string]any) (Settings, error) {
	s := Decode(values)
	return s, s.Validate()
}

// Instance types.
const (
	VirtualMachine = runners.VirtualMachine
	Container      = runners.Container
)

var (
	orgRe      = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)
	repoRe     = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	aliasRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,253}$`)
	profileRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	packageRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+|/[a-z0-9.-]+)?$`)
	secretURIs = regexp.MustCompile(`^secret:(?://[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/)?[0-9a-z]{20}$`)
)

// remoteBaseAlias is the alias on image-server of a base-image value
// fetched from there (jammy, noble), or "" for a local image.
func remoteBaseAlias(baseImage string) string {
	switch baseImage {
	case "jammy":
		return "22.04"
	case "noble":
		return "24.04"
	}
	return ""
}

// IsSecretToken says whether the token option holds a secret URI.
func (c Settings) IsSecretToken() bool {
	return strings.HasPrefix(string(c.Token), "secret:")
}

// IsSecretAppKey says whether the app-private-key option holds a secret
// URI.
func (c Settings) IsSecretAppKey() bool {
	return strings.HasPrefix(string(c.AppPrivateKey), "secret:")
}

// UsesApp says whether the settings authenticate as a GitHub App rather
// than with a token.
func (c Settings) UsesApp() bool {
	return c.AppID != 0 || c.AppInstallationID != 0 || c.AppPrivateKey != ""
}

// IsRepository says whether Path names a repository (owner/repo) rather
// than an organisation or an enterprise.
func (c Settings) IsRepository() bool { return !c.IsEnterprise() && strings.Contains(c.Path, "/") }

// IsEnterprise says whether Path names an enterprise (enterprise:<slug>).
func (c Settings) IsEnterprise() bool { return strings.HasPrefix(c.Path, github.EnterprisePrefix) }

// Owner is the organisation, or the repository's owner.
func (c Settings) Owner() string {
	owner, _, _ := strings.Cut(c.Path, "/")
	return owner
}

// Repo is the repository's name, or "" for an organisation.
func (c Settings) Repo() string {
	_, repo, _ := strings.Cut(c.Path, "/")
	return repo
}

// Resources are each runner's CPU, memory and disk.
func (c Settings) Resources() (runners.Resources, error) {
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
func (c Settings) LabelList() ([]string, error) { return runners.ParseLabels(c.Labels) }

// ProfileList is the extra LXD profiles, in order.
func (c Settings) ProfileList() []string { return splitList(c.LXDProfiles) }

// PackageList is the packages the image build installs.
func (c Settings) PackageList() []string { return splitList(c.ImagePackages) }

// ReconcileEvery is the time between two reconciles.
func (c Settings) ReconcileEvery() time.Duration {
	return time.Duration(c.ReconcileInterval) * time.Minute
}

// BootstrapWait is how long a new runner may take to come online.
func (c Settings) BootstrapWait() time.Duration {
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

// Validate checks every option and returns a *config.Error with one
// problem per bad option, or nil. It needs no I/O: a secret token is only
// checked to be a well-formed URI (LoadConfig reads it).
func (c Settings) Validate() error {
	problems := append([]config.Problem(nil), c.decodeProblems...)
	bad := func(option string, format string, args ...any) {
		for _, p := range problems {
			if p.Option == option {
				return // one problem per option; a type problem comes first
			}
		}
		problems = append(problems, config.Problem{Option: option, Text: fmt.Sprintf(format, args...)})
	}

	switch {
	case c.Path == "":
		bad("path", "path: missing: set an organisation or owner/repo")
	case c.IsEnterprise():
		if _, err := github.ParsePath(c.Path); err != nil {
			bad("path", "path %q: want enterprise:<slug>, the enterprise's slug in lower-case letters, digits and hyphens", c.Path)
		} else if c.UsesApp() {
			bad("path", "path %q: GitHub Apps cannot manage enterprise runners; use a token with manage_runners:enterprise", c.Path)
		}
	case c.IsRepository():
		owner, repo, _ := strings.Cut(c.Path, "/")
		if !orgRe.MatchString(owner) || !repoRe.MatchString(repo) || repo == "." || repo == ".." {
			bad("path", "path %q: want an organisation (acme) or a repository (owner/repo)", c.Path)
		}
	case !orgRe.MatchString(c.Path):
		bad("path", "path %q: want an organisation (acme) or a repository (owner/repo)", c.Path)
	}

	const appOptions = "a GitHub App (app-id, app-installation-id, app-private-key)"
	switch {
	case c.Token == "" && !c.UsesApp():
		bad("token", "token: missing: set a GitHub token, or a secret: URI granted to the application")
	case c.Token != "" && c.UsesApp():
		bad("token", "token: set either a token or "+appOptions+", not both")
	case c.Token == "":
		c.validateApp(bad)
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

	remote := remoteBaseAlias(c.BaseImage) != ""
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
	if c.MetricsPort < 0 || c.MetricsPort > 65535 {
		bad("metrics-port", "metrics-port %d: want a TCP port (1 to 65535), or 0 for no metrics", c.MetricsPort)
	}
	for _, d := range []struct{ option, value string }{
		{"timer-directory", c.TimerDirectory},
		{"cron-directory", c.CronDirectory},
	} {
		if !filepath.IsAbs(d.value) {
			bad(d.option, "%s %q: want an absolute path", d.option, d.value)
		}
	}
	for _, px := range []struct{ option, value string }{
		{"runner-http-proxy", c.RunnerHTTPProxy},
		{"runner-https-proxy", c.RunnerHTTPSProxy},
	} {
		if px.value != "" && !isURL(px.value, "http", "https") {
			bad(px.option, "%s %q: want a proxy URL such as http://proxy.example:3128, or empty for the model's", px.option, px.value)
		}
	}
	if strings.ContainsFunc(c.RunnerNoProxy, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r == 0x7f }) {
		bad("runner-no-proxy", "runner-no-proxy %q: want hosts, domains or addresses separated by commas, without spaces", c.RunnerNoProxy)
	}
	if c.RunnerStorage != OwnBtrfsStorage && !profileRe.MatchString(c.RunnerStorage) {
		bad("runner-storage", "runner-storage %q: want btrfs (a pool of the unit's own) or the name of an existing LXD storage pool", c.RunnerStorage)
	}
	if c.RunnerStorage == OwnBtrfsStorage {
		if b, err := runners.ParseSize(c.RunnerStorageSize); err != nil {
			bad("runner-storage-size", "runner-storage-size %q: not a size (use e.g. 30GiB)", c.RunnerStorageSize)
		} else if b < MinRunnerStorageSize {
			bad("runner-storage-size", "runner-storage-size %q: at least %s", c.RunnerStorageSize, runners.FormatSize(MinRunnerStorageSize))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &config.Error{Problems: problems}
}

// validateApp checks the GitHub App options.
func (c Settings) validateApp(bad func(option, format string, args ...any)) {
	const need = "a GitHub App needs app-id, app-installation-id and app-private-key"
	switch {
	case c.AppID == 0:
		bad("app-id", "app-id: missing: %s", need)
	case c.AppID < 0:
		bad("app-id", "app-id %d: want the GitHub App's numeric id", c.AppID)
	}
	switch {
	case c.AppInstallationID == 0:
		bad("app-installation-id", "app-installation-id: missing: %s", need)
	case c.AppInstallationID < 0:
		bad("app-installation-id", "app-installation-id %d: want the installation's numeric id", c.AppInstallationID)
	}
	switch {
	case c.AppPrivateKey == "":
		bad("app-private-key", "app-private-key: missing: %s", need)
	case c.IsSecretAppKey():
		if !secretURIs.MatchString(string(c.AppPrivateKey)) {
			bad("app-private-key", "app-private-key: not a valid secret URI (want secret:<id>)")
		}
	default:
		if err := CheckAppKey(c.AppPrivateKey.Reveal()); err != nil {
			bad("app-private-key", "%s", err.Error())
		}
	}
}

// CheckAppKey says what is wrong with an App private key, naming the
// option and never quoting the key, or returns nil.
func CheckAppKey(pem string) error {
	if _, err := github.ParseAppKey([]byte(pem)); err != nil {
		return fmt.Errorf("app-private-key: %w (want the .pem file GitHub gave for the App)", err)
	}
	return nil
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
