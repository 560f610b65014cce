package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/runners"
)

// StateDirName is the folder, beside the charm folder in the unit's agent
// folder, that holds the runner manager's lock and the runner application.
const StateDirName = "github-runner-state"

// StateDirFor is the runner manager's state folder for a unit whose charm
// folder is charmDir: <agent folder>/github-runner-state, so that it is
// per unit and goes with the unit.
func StateDirFor(charmDir string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(charmDir)), StateDirName)
}

// The base-image values fetched from image-server, and their aliases there.
var remoteBaseAliases = map[string]string{"jammy": "22.04", "noble": "24.04"}

// BaseImageSource is where the runner image is built from: jammy and noble
// are the Ubuntu releases on image-server (simplestreams); anything else is
// an alias (or fingerprint) in the local LXD image store.
func (c Config) BaseImageSource() runners.ImageSource {
	if alias, ok := remoteBaseAliases[c.BaseImage]; ok {
		return runners.ImageSource{Alias: alias, Server: c.ImageServer, Protocol: "simplestreams"}
	}
	return runners.ImageSource{Alias: c.BaseImage}
}

// PoolOptions are what NewPool needs beside the configuration.
type PoolOptions struct {
	// App and Unit name whose runners the pool holds: github-runner and
	// github-runner/0. Only instances and GitHub runners of this unit are
	// ever touched.
	App, Unit string
	// StateDir is the runner manager's folder (absolute); NewPool creates
	// it with mode 0700.
	StateDir string
	// Proxy picks the proxy for GitHub API calls and runner downloads
	// (nil: none).
	Proxy func(*http.Request) (*url.URL, error)
	// Logger gets the pool's log lines (nil: discarded). Secrets never
	// reach it.
	Logger *slog.Logger
}

// Pool is one unit's runner pool: the runner manager and the LXD and
// GitHub clients behind it, all built from the charm configuration by
// NewPool, the one place where they are wired. Errors from its methods
// that came from GitHub carry the configured path (a *GitHubError) so that
// Classify can name it.
type Pool struct {
	cfg     Config
	Manager *runners.Manager
	GitHub  *github.Client
	LXD     *lxd.Client
}

// NewPool builds the clients and the runner manager from cfg, which must
// be valid. It does no I/O beyond looking for the LXD socket and creating
// the state folder. No LXD socket is a *ConfigError when lxd-socket names
// one, and a *BlockedError saying how to install LXD otherwise.
func NewPool(cfg Config, opts PoolOptions) (*Pool, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lxdClient, err := lxd.New(lxd.Options{Socket: cfg.LXDSocket, Logger: log})
	if errors.Is(err, lxd.ErrNoSocket) {
		return nil, NoLXDError(cfg, err)
	}
	if err != nil {
		return nil, err
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = opts.Proxy
	ghClient, err := github.New(github.Config{
		Path:       cfg.Path,
		Token:      cfg.Token.Reveal(),
		APIURL:     cfg.GitHubAPIURL,
		HTTPClient: &http.Client{Transport: transport, Timeout: github.DefaultHTTPTimeout},
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot set up the GitHub client: %w", err)
	}

	if !filepath.IsAbs(opts.StateDir) {
		return nil, fmt.Errorf("runner state folder %q is not an absolute path", opts.StateDir)
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the runner state folder: %w", err)
	}
	if err := os.Chmod(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot restrict the runner state folder: %w", err)
	}
	labels, err := cfg.LabelList()
	if err != nil {
		return nil, err
	}
	group := cfg.Group
	if cfg.IsRepository() {
		group = "" // repository runners always join the default group
	}
	mgr, err := runners.New(opts.App, opts.Unit, runners.Config{
		Instances: runners.LXDInstances{Client: lxdClient},
		GitHub:    ghClient,
		// Downloads are bounded by their context, not by a client timeout:
		// the runner application is large.
		HTTPClient:       &http.Client{Transport: transport},
		Logger:           log,
		StateDir:         opts.StateDir,
		InstanceType:     cfg.InstanceType,
		BaseImage:        cfg.BaseImageSource(),
		ImagePackages:    cfg.PackageList(),
		DockerhubMirror:  cfg.DockerHubMirror,
		Profiles:         cfg.ProfileList(),
		Labels:           labels,
		Group:            group,
		BootstrapTimeout: cfg.BootstrapWait(),
		MaxParallel:      cfg.MaxParallelLaunches,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot set up the runner manager: %w", err)
	}
	return &Pool{cfg: cfg, Manager: mgr, GitHub: ghClient, LXD: lxdClient}, nil
}

// NoLXDError is the error for a machine where no LXD socket was found: a
// *ConfigError on lxd-socket when the option names a socket, else a
// *BlockedError saying how to install LXD.
func NoLXDError(cfg Config, err error) error {
	if cfg.LXDSocket != "" {
		return &ConfigError{Problems: []Problem{{Option: "lxd-socket",
			Text: fmt.Sprintf("lxd-socket %q: no LXD socket there (is LXD running?)", cfg.LXDSocket)}}}
	}
	return &BlockedError{Message: "LXD not found: install it (snap install lxd && lxd init --auto) or set lxd-socket", Err: err}
}

// scoped marks an error as coming from work for the configured path.
func (p *Pool) scoped(err error) error {
	if err == nil {
		return nil
	}
	return &GitHubError{Path: p.cfg.Path, Err: err}
}

// CheckLXD checks that LXD answers and has what the configuration names:
// the extra profiles, a local base image, and virtual machine support when
// instance-type asks for it. A missing one is a *ConfigError naming the
// option; an LXD that does not answer is a passing fault.
func (p *Pool) CheckLXD(ctx context.Context) error {
	srv, err := p.LXD.GetServer(ctx)
	if err != nil {
		return fmt.Errorf("cannot reach LXD at %s: %w", p.LXD.Socket(), err)
	}
	var problems []Problem
	if p.cfg.InstanceType == VirtualMachine && !strings.Contains(srv.Environment.Driver, "qemu") {
		problems = append(problems, Problem{Option: "instance-type", Text: fmt.Sprintf(
			"instance-type %q: this machine's LXD cannot run virtual machines (drivers: %s); enable KVM or set instance-type=container",
			p.cfg.InstanceType, srv.Environment.Driver)})
	}
	if src := p.cfg.BaseImageSource(); src.Server == "" {
		found, err := p.localImageExists(ctx, src.Alias)
		if err != nil {
			return err
		}
		if !found {
			problems = append(problems, Problem{Option: "base-image", Text: fmt.Sprintf(
				"base-image %q: no such image alias or fingerprint in the local LXD image store", p.cfg.BaseImage)})
		}
	}
	for _, name := range p.cfg.ProfileList() {
		_, _, err := p.LXD.GetProfile(ctx, name)
		if errors.Is(err, lxd.ErrNotFound) {
			problems = append(problems, Problem{Option: "lxd-profiles", Text: fmt.Sprintf(
				"lxd-profiles %q: profile %q does not exist in LXD", p.cfg.LXDProfiles, name)})
			break
		}
		if err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return &ConfigError{Problems: problems}
	}
	return nil
}

func (p *Pool) localImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := p.LXD.GetImageAlias(ctx, ref)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, lxd.ErrNotFound) {
		return false, err
	}
	_, err = p.LXD.GetImage(ctx, ref)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, lxd.ErrNotFound) {
		return false, nil
	}
	return false, err
}

// Reconcile brings the unit's runners to the configured number.
func (p *Pool) Reconcile(ctx context.Context) (runners.Result, error) {
	res, err := p.cfg.Resources()
	if err != nil {
		return runners.Result{}, err
	}
	out, err := p.Manager.Reconcile(ctx, p.cfg.VirtualMachines, res)
	return out, p.scoped(err)
}

// Flush removes the unit's idle runners, or all of them with
// runners.FlushBusy.
func (p *Pool) Flush(ctx context.Context, mode runners.FlushMode) (runners.Result, error) {
	out, err := p.Manager.Flush(ctx, mode)
	return out, p.scoped(err)
}

// Runners lists the unit's runners as LXD and GitHub see them.
func (p *Pool) Runners(ctx context.Context) ([]runners.RunnerInfo, error) {
	out, err := p.Manager.Runners(ctx)
	return out, p.scoped(err)
}

// BinaryUpdate says what EnsureRunnerBinary did.
type BinaryUpdate struct {
	// Version is the runner application's version now in place.
	Version string
	// Previous is the version before, "" when there was none.
	Previous string
	// Changed is true when a new tarball was downloaded.
	Changed bool
}

// EnsureRunnerBinary puts a verified runner application in place: it
// downloads the newest one when there is none, or, with newest, when
// GitHub offers another.
func (p *Pool) EnsureRunnerBinary(ctx context.Context, newest bool) (BinaryUpdate, error) {
	var up BinaryUpdate
	if v, err := p.Manager.RunnerApp().Version(); err == nil {
		up.Previous, up.Version = v, v
		if !newest {
			return up, nil
		}
	}
	dl, err := p.Manager.RunnerApp().Latest(ctx, "linux")
	if err != nil {
		return up, p.scoped(err)
	}
	changed, err := p.Manager.RunnerApp().Update(ctx, dl)
	if err != nil {
		return up, err
	}
	v, err := p.Manager.RunnerApp().Version()
	if err != nil {
		return up, err
	}
	up.Version, up.Changed = v, changed
	return up, nil
}

// HasImage says whether the unit's runner image exists.
func (p *Pool) HasImage(ctx context.Context) (bool, error) {
	return p.Manager.Image().Exists(ctx)
}

// BuildImage builds the unit's runner image; the runner application must
// be in place.
func (p *Pool) BuildImage(ctx context.Context) error {
	return p.Manager.Image().Build(ctx)
}

// DeleteImage deletes the unit's runner image and its alias; a missing one
// is fine.
func (p *Pool) DeleteImage(ctx context.Context) error {
	alias, err := p.LXD.GetImageAlias(ctx, p.Manager.Image().Alias())
	if errors.Is(err, lxd.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot look up the runner image: %w", err)
	}
	op, err := p.LXD.DeleteImage(ctx, alias.Target)
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil && !errors.Is(err, lxd.ErrNotFound) {
		return fmt.Errorf("cannot delete the runner image: %w", err)
	}
	// Deleting the image takes its alias with it; this is for an alias
	// left pointing at an image that was already gone.
	if err := p.LXD.DeleteImageAlias(ctx, p.Manager.Image().Alias()); err != nil && !errors.Is(err, lxd.ErrNotFound) {
		return fmt.Errorf("cannot delete the runner image alias: %w", err)
	}
	return nil
}

// RemoveInstances deletes every instance of this unit (runners and image
// builders) from LXD alone, without GitHub: the last resort of a teardown
// whose GitHub credentials no longer work. It returns the names removed.
func (p *Pool) RemoveInstances(ctx context.Context) ([]string, error) {
	owner := p.Manager.Owner()
	var removed []string
	var errs []error
	for _, role := range []string{runners.RoleRunner, runners.RoleBuilder} {
		list, err := p.LXD.GetInstances(ctx, lxd.InstanceFilter{Config: owner.Keys(role)})
		if err != nil {
			return removed, fmt.Errorf("cannot list the unit's instances: %w", err)
		}
		for _, in := range list {
			if !owner.OwnsInstance(in.Name, in.Config, role) {
				continue
			}
			if err := p.LXD.RemoveInstance(ctx, in.Name); err != nil && !errors.Is(err, lxd.ErrNotFound) {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, in.Name)
		}
	}
	return removed, errors.Join(errs...)
}

// runnerSpec is what each runner is made of; a change replaces the idle
// runners.
func (c Config) runnerSpec() string {
	res, _ := c.Resources()
	return strings.Join([]string{c.InstanceType, "cpu=" + strconv.Itoa(res.CPU),
		"memory=" + runners.FormatSize(res.Memory), "disk=" + runners.FormatSize(res.Disk)}, " ")
}

// imageSpec is what the runner image is built from; a change rebuilds it.
func (c Config) imageSpec() string {
	src := c.BaseImageSource()
	return strings.Join([]string{c.InstanceType, src.Server, src.Alias,
		"packages=" + strings.Join(c.PackageList(), ","), "mirror=" + c.DockerHubMirror}, " ")
}

// registrationSpec is how runners register: their labels and, for an
// organisation, their group; a change replaces the idle runners.
func (c Config) registrationSpec() string {
	labels, _ := c.LabelList()
	spec := "labels=" + strings.Join(labels, ",")
	if !c.IsRepository() {
		spec += " group=" + strings.ToLower(strings.TrimSpace(c.Group))
	}
	return spec
}
