// Package pool is the application's core: one unit's pool of runners,
// built from its Settings, and the operations both front doors (the charm's
// hooks and actions, and the command line) perform on it: converge,
// reconcile, flush, check, image build, runner application update and
// teardown, and the classification of their errors. It knows nothing of
// Juju: what a front door keeps between runs (Memory), the periodic jobs it
// installs (Schedules) and where it shows progress (Reporter) come in
// through interfaces this package declares.
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/metrics"
	"charm.example/github-runner/internal/runners"
)

// Bounds of the long steps, each from its own start.
const (
	BinaryTimeout    = 15 * time.Minute
	ImageTimeout     = 75 * time.Minute
	FlushTimeout     = 15 * time.Minute
	ReconcileTimeout = 25 * time.Minute
	LookTimeout      = 3 * time.Minute
)

// StateDirName is the name of a charm unit's state folder, which the
// charm keeps beside its charm folder in the unit's agent folder.
const StateDirName = "github-runner-state"

// GitHubCacheDirName is the folder in the state folder where the GitHub
// client keeps, per credential, its cache of runner listings and the rate
// limit's state, shared by the unit's processes (see github.Config.CacheDir).
const GitHubCacheDirName = "github-cache"

// Options are what Open needs beside the settings.
type Options struct {
	// App and Unit name whose runners the pool holds: github-runner and
	// github-runner/0. Only instances and GitHub runners of this unit are
	// ever touched.
	App, Unit string
	// Model is the Juju model's UUID (JUJU_MODEL_UUID), "" outside Juju:
	// with it, two models' applications of one name keep apart.
	Model string
	// StateDir is the runner manager's folder (absolute); Open creates it
	// with mode 0700.
	StateDir string
	// Proxy picks the proxy for GitHub API calls and runner downloads
	// (nil: none).
	Proxy func(*http.Request) (*url.URL, error)
	// ModelProxy is the proxy of the machine's environment (the model's
	// juju-http-proxy and so on for the charm, the process environment
	// for the command line): the image build and the runners use it
	// unless runner-http-proxy and friends say otherwise.
	ModelProxy runners.Proxy
	// Logger gets the pool's log lines (nil: discarded). Secrets never
	// reach it.
	Logger *slog.Logger
	// Memory keeps what the pool applied between runs (nil: nothing is
	// kept, and every converge starts afresh).
	Memory Memory
	// Schedules installs the periodic jobs during a converge (nil: none).
	Schedules Schedules
	// Reporter shows progress (nil: log lines only).
	Reporter Reporter
	// Metrics records what the operations did (nil: nothing); the front
	// door flushes it before its process ends.
	Metrics *metrics.Recorder
}

// Reporter is told what the pool is doing, for people to see.
type Reporter interface {
	// Progress says what long step starts now.
	Progress(ctx context.Context, msg string) error
	// RunnerVersion says which runner application version is now in place.
	RunnerVersion(ctx context.Context, version string) error
}

// Pool is one unit's runner pool: the runner manager and the LXD and
// GitHub clients behind it, all built from the settings by Open, the one
// place where they are wired. Errors from its methods that came from
// GitHub carry the configured path (a *GitHubError) so that Classify can
// name it.
type Pool struct {
	settings Settings
	opts     Options
	log      *slog.Logger
	mgr      *runners.Manager
	gh       *github.Client
	lxd      *lxd.Client
}

// Open builds the clients and the runner manager from s, which must be
// valid. It does no I/O beyond looking for the LXD socket and creating the
// state folder. No LXD socket is a *config.Error when lxd-socket names
// one, and a *BlockedError saying how to install LXD otherwise.
func Open(s Settings, opts Options) (*Pool, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lxdClient, err := lxd.New(lxd.Options{Socket: s.LXDSocket, Logger: log})
	if errors.Is(err, lxd.ErrNoSocket) {
		return nil, NoLXDError(s, err)
	}
	if err != nil {
		return nil, err
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

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = opts.Proxy
	ghConfig := github.Config{
		Path:       s.Path,
		Token:      s.Token.Reveal(),
		APIURL:     s.GitHubAPIURL,
		HTTPClient: &http.Client{Transport: transport, Timeout: github.DefaultHTTPTimeout},
		Logger:     log,
		CacheDir:   filepath.Join(opts.StateDir, GitHubCacheDirName),
		Observe:    githubObserver(opts.Metrics),
	}
	if s.UsesApp() {
		ghConfig.App = &github.AppCredentials{
			AppID: int64(s.AppID), InstallationID: int64(s.AppInstallationID),
			PrivateKey: []byte(s.AppPrivateKey.Reveal()),
		}
	}
	ghClient, err := github.New(ghConfig)
	if errors.Is(err, github.ErrBadAppKey) {
		return nil, &config.Error{Problems: []config.Problem{{Option: "app-private-key", Text: CheckAppKey(s.AppPrivateKey.Reveal()).Error()}}}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot set up the GitHub client: %w", err)
	}

	labels, err := s.LabelList()
	if err != nil {
		return nil, err
	}
	owner, err := runners.NewOwnerInModel(opts.App, opts.Unit, opts.Model)
	if err != nil {
		return nil, fmt.Errorf("cannot set up the runner manager: %w", err)
	}
	group := s.Group
	if s.IsRepository() {
		group = "" // repository runners always join the default group
	}
	mgr, err := runners.New(opts.App, opts.Unit, runners.Config{
		Model:     opts.Model,
		Instances: runners.LXDInstances{Client: lxdClient},
		GitHub:    ghClient,
		// Downloads are bounded by their context, not by a client timeout:
		// the runner application is large.
		HTTPClient:       &http.Client{Transport: transport},
		Logger:           log,
		StateDir:         opts.StateDir,
		InstanceType:     s.InstanceType,
		BaseImage:        s.BaseImageSource(),
		ImagePackages:    s.PackageList(),
		DockerhubMirror:  s.DockerHubMirror,
		StoragePool:      storagePoolName(s, owner),
		Proxy:            s.RunnerProxy(opts.ModelProxy),
		Profiles:         s.ProfileList(),
		Labels:           labels,
		Group:            group,
		BootstrapTimeout: s.BootstrapWait(),
		MaxParallel:      s.MaxParallelLaunches,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot set up the runner manager: %w", err)
	}
	return &Pool{settings: s, opts: opts, log: log, mgr: mgr, gh: ghClient, lxd: lxdClient}, nil
}

// NoLXDError is the error for a machine where no LXD socket was found: a
// *config.Error on lxd-socket when the option names a socket, else a
// *BlockedError saying how to install LXD.
func NoLXDError(s Settings, err error) error {
	if s.LXDSocket != "" {
		return &config.Error{Problems: []config.Problem{{Option: "lxd-socket",
			Text: fmt.Sprintf("lxd-socket %q: no LXD socket there (is LXD running?)", s.LXDSocket)}}}
	}
	return &BlockedError{Message: "LXD not found: install it (snap install lxd && lxd init --auto) or set lxd-socket", Err: err}
}

// RunnerProxy is the proxy of the image build and the runners.
func (p *Pool) RunnerProxy() runners.Proxy { return p.settings.RunnerProxy(p.opts.ModelProxy) }

// RunnerProxy is the proxy of the image build and the runners: each of
// runner-http-proxy, runner-https-proxy and runner-no-proxy that is set,
// in place of the same part of model.
func (s Settings) RunnerProxy(model runners.Proxy) runners.Proxy {
	px := model
	if s.RunnerHTTPProxy != "" {
		px.HTTP = s.RunnerHTTPProxy
	}
	if s.RunnerHTTPSProxy != "" {
		px.HTTPS = s.RunnerHTTPSProxy
	}
	if s.RunnerNoProxy != "" {
		px.NoProxy = s.RunnerNoProxy
	}
	return px
}

// Settings are the settings the pool was opened with.
func (p *Pool) Settings() Settings { return p.settings }

// Owner is the unit whose runners the pool holds.
func (p *Pool) Owner() runners.Owner { return p.mgr.Owner() }

// LXDSocket is the socket of the LXD the pool talks to.
func (p *Pool) LXDSocket() string { return p.lxd.Socket() }

// ImageAlias is the alias of the unit's runner image.
func (p *Pool) ImageAlias() string { return p.mgr.Image().Alias() }

// RunnerVersion is the version of the runner application in place, or ""
// when there is none.
func (p *Pool) RunnerVersion() string {
	v, _ := p.mgr.RunnerApp().Version()
	return v
}

// scoped marks an error as coming from work for the configured path.
func (p *Pool) scoped(err error) error {
	if err == nil {
		return nil
	}
	return &GitHubError{Path: p.settings.Path, AppID: int64(p.settings.AppID), Err: err}
}

// progress reports a step through the Reporter and the log.
func (p *Pool) progress(ctx context.Context, msg string) error {
	p.log.Info("progress", "step", msg)
	if p.opts.Reporter == nil {
		return nil
	}
	return p.opts.Reporter.Progress(ctx, msg)
}

// CheckLXD checks that LXD answers and has what the settings name: the
// extra profiles, a local base image, and virtual machine support when
// instance-type asks for it. A missing one is a *config.Error naming the
// option; an LXD that does not answer is a passing fault.
func (p *Pool) CheckLXD(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, LookTimeout)
	defer cancel()
	srv, err := p.lxd.GetServer(ctx)
	if err != nil {
		return fmt.Errorf("cannot reach LXD at %s: %w", p.lxd.Socket(), err)
	}
	s := p.settings
	var problems []config.Problem
	if s.InstanceType == VirtualMachine && !strings.Contains(srv.Environment.Driver, "qemu") {
		problems = append(problems, config.Problem{Option: "instance-type", Text: fmt.Sprintf(
			"instance-type %q: this machine's LXD cannot run virtual machines (drivers: %s); enable KVM or set instance-type=container",
			s.InstanceType, srv.Environment.Driver)})
	}
	if src := s.BaseImageSource(); src.Server == "" {
		found, err := p.localImageExists(ctx, src.Alias)
		if err != nil {
			return err
		}
		if !found {
			problems = append(problems, config.Problem{Option: "base-image", Text: fmt.Sprintf(
				"base-image %q: no such image alias or fingerprint in the local LXD image store", s.BaseImage)})
		}
	}
	for _, name := range s.ProfileList() {
		_, _, err := p.lxd.GetProfile(ctx, name)
		if errors.Is(err, lxd.ErrNotFound) {
			problems = append(problems, config.Problem{Option: "lxd-profiles", Text: fmt.Sprintf(
				"lxd-profiles %q: profile %q does not exist in LXD", s.LXDProfiles, name)})
			break
		}
		if err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return &config.Error{Problems: problems}
	}
	return nil
}

func (p *Pool) localImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := p.lxd.GetImageAlias(ctx, ref)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, lxd.ErrNotFound) {
		return false, err
	}
	_, err = p.lxd.GetImage(ctx, ref)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, lxd.ErrNotFound) {
		return false, nil
	}
	return false, err
}

// Reconcile brings the unit's runners to virtual-machines, logging what
// changed.
func (p *Pool) Reconcile(ctx context.Context) (runners.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, ReconcileTimeout)
	defer cancel()
	res, err := p.settings.Resources()
	if err != nil {
		return runners.Result{}, err
	}
	start := time.Now()
	out, err := p.mgr.Reconcile(ctx, p.settings.VirtualMachines, res)
	p.recordResult(out)
	if out.Observed {
		p.recordRunners(out.Runners, out.Removed)
	}
	p.opts.Metrics.ReconcileDone(time.Since(start), err)
	if len(out.Created) > 0 || len(out.Removed) > 0 || len(out.Failures) > 0 {
		p.log.Info("reconciled", "wanted", out.Wanted, "before", out.Before, "after", out.After,
			"created", len(out.Created), "removed", len(out.Removed), "failures", len(out.Failures))
	}
	return out, p.scoped(err)
}

// Flush removes the unit's idle runners, or all of them with
// runners.FlushBusy.
func (p *Pool) Flush(ctx context.Context, mode runners.FlushMode) (runners.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, FlushTimeout)
	defer cancel()
	out, err := p.mgr.Flush(ctx, mode)
	p.recordResult(out)
	if out.Observed {
		p.recordRunners(out.Runners, out.Removed)
	}
	return out, p.scoped(err)
}

// Runners lists the unit's runners as LXD and GitHub see them.
func (p *Pool) Runners(ctx context.Context) ([]runners.RunnerInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, LookTimeout)
	defer cancel()
	out, err := p.mgr.Runners(ctx)
	if err == nil {
		p.recordRunners(out, nil)
	}
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
// GitHub offers another. A new version is reported to the Reporter.
func (p *Pool) EnsureRunnerBinary(ctx context.Context, newest bool) (BinaryUpdate, error) {
	var up BinaryUpdate
	has := p.mgr.RunnerApp().Has()
	if v, err := p.mgr.RunnerApp().Version(); err == nil {
		up.Previous, up.Version = v, v
	}
	if has && !newest {
		return up, nil
	}
	msg := "downloading the runner application"
	if has {
		msg = "checking for a newer runner application"
	}
	if err := p.progress(ctx, msg); err != nil {
		return up, err
	}
	ctx, cancel := context.WithTimeout(ctx, BinaryTimeout)
	defer cancel()
	dl, err := p.mgr.RunnerApp().Latest(ctx, "linux")
	if err != nil {
		return up, p.scoped(err)
	}
	changed, err := p.mgr.RunnerApp().Update(ctx, dl)
	if err != nil {
		return up, err
	}
	v, err := p.mgr.RunnerApp().Version()
	if err != nil {
		return up, err
	}
	up.Version, up.Changed = v, changed
	if changed {
		p.log.Info("runner application in place", "version", up.Version, "previous", up.Previous)
		if p.opts.Reporter != nil {
			if err := p.opts.Reporter.RunnerVersion(ctx, up.Version); err != nil {
				return up, err
			}
		}
	}
	return up, nil
}

// HasImage says whether the unit's runner image exists.
func (p *Pool) HasImage(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, LookTimeout)
	defer cancel()
	return p.mgr.Image().Exists(ctx)
}

// BuildImage builds the unit's runner image, for reason, putting the
// runner application in place first if it is missing.
func (p *Pool) BuildImage(ctx context.Context, reason string) error {
	s := p.settings
	src := s.BaseImageSource()
	from := src.Alias
	if src.Server != "" {
		from = fmt.Sprintf("%s (%s)", s.BaseImage, src.Alias)
	}
	if err := p.progress(ctx, fmt.Sprintf("building the runner image from %s (%s)", from, reason)); err != nil {
		return err
	}
	if _, err := p.EnsureRunnerBinary(ctx, false); err != nil {
		return err
	}
	if err := p.EnsureStorage(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, ImageTimeout)
	defer cancel()
	start := time.Now()
	err := p.mgr.Image().Build(ctx)
	p.opts.Metrics.ImageBuilt(time.Since(start), err, time.Now())
	if err != nil {
		return err
	}
	p.log.Info("runner image built", "alias", p.mgr.Image().Alias(), "reason", reason)
	return nil
}

// RunnerUpdate says what UpdateRunnerApplication did.
type RunnerUpdate struct {
	BinaryUpdate
	// Flushed and Reconciled are the replacement of the idle runners, when
	// the application changed.
	Flushed, Reconciled *runners.Result
}

// UpdateRunnerApplication fetches the newest runner application if GitHub
// offers another one, and then replaces the idle runners so that they run
// it (busy ones finish their job first).
func (p *Pool) UpdateRunnerApplication(ctx context.Context) (RunnerUpdate, error) {
	up, err := p.EnsureRunnerBinary(ctx, true)
	out := RunnerUpdate{BinaryUpdate: up}
	if err != nil || !up.Changed {
		return out, err
	}
	if err := p.progress(ctx, fmt.Sprintf("runner application updated to %s: replacing the idle runners", up.Version)); err != nil {
		return out, err
	}
	flushed, err := p.Flush(ctx, runners.FlushIdle)
	if err != nil {
		return out, err
	}
	out.Flushed = &flushed
	res, err := p.Reconcile(ctx)
	out.Reconciled = &res
	return out, err
}
