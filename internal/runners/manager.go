package runners

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"charm.example/github-runner/internal/github"
)

// Instance types.
const (
	Container      = "container"
	VirtualMachine = "virtual-machine"
)

// Defaults for Config fields left zero.
const (
	DefaultBootstrapTimeout = 10 * time.Minute
	DefaultMaxParallel      = 10
	DefaultGroup            = "default"
)

// Config configures a Manager. New copies it.
type Config struct {
	// Instances and GitHub are the two outside systems.
	Instances Instances
	GitHub    GitHub
	// HTTPClient downloads the runner application (nil: http.DefaultClient).
	HTTPClient *http.Client
	// Logger gets one line per removal and the manager's progress.
	Logger *slog.Logger

	// StateDir holds the lock and the runner application tarball.
	StateDir string
	// InstanceType is Container or VirtualMachine.
	InstanceType string
	// ImageAlias names the runner image (default: the owner's ImageAlias).
	ImageAlias string
	// BaseImage is what the runner image is built from.
	BaseImage ImageSource
	// ImagePackages are installed with apt-get during an image build.
	ImagePackages []string
	// DockerhubMirror is written into the runners' Docker config if set.
	DockerhubMirror string
	// StoragePool holds the runners' and the image builder's root disks
	// (default "default").
	StoragePool string
	// Proxy is the HTTP proxy of the image build (apt) and of the runners
	// (their environment, the runner application's .env, Docker's daemon
	// and client); the zero value is none.
	Proxy Proxy
	// Profiles are applied to every runner, in order.
	Profiles []string
	// Labels are the runners' custom labels.
	Labels []string
	// Group is the organisation runner group (default "default").
	Group string
	// BootstrapTimeout is how long a new runner may take to come online.
	BootstrapTimeout time.Duration
	// MaxParallel bounds concurrent creations and removals.
	MaxParallel int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Model is the Juju model's UUID, part of runner names and instance
	// keys ("" outside Juju; see NewOwnerInModel).
	Model string
}

// Manager manages the runners of one unit: it reconciles and flushes them
// (observe, decide, act) and holds the unit's runner application store and
// image builder, which new runners come from.
type Manager struct {
	owner     Owner
	cfg       Config
	instances runnerInstances
	github    runnerRegistry
	app       *AppStore
	image     *ImageBuilder
	log       *slog.Logger
}

// runnerInstances is what reconciling needs of LXD (see Instances).
type runnerInstances interface {
	ListInstances(ctx context.Context, keys map[string]string) ([]Instance, error)
	LaunchInstance(ctx context.Context, spec LaunchSpec) error
	DeleteInstance(ctx context.Context, name string) error
	Exec(ctx context.Context, name string, cmd Command) (ExecResult, error)
	PushFile(ctx context.Context, name, path string, content io.Reader, uid, gid int, mode os.FileMode) error
	ReadFile(ctx context.Context, name, path string) (io.ReadCloser, []string, error)
}

// runnerRegistry is what reconciling needs of GitHub (see GitHub).
type runnerRegistry interface {
	ListRunners(ctx context.Context, prefix string) ([]github.Runner, error)
	DeleteRunner(ctx context.Context, id int64) error
	GenerateJITConfig(ctx context.Context, req github.JITRequest) (github.JITConfig, error)
	RegistrationToken(ctx context.Context) (github.Token, error)
	WebURL() string
}

// New returns a manager for the runners of unit (`app/N`) of app.
func New(app, unit string, cfg Config) (*Manager, error) {
	owner, err := NewOwnerInModel(app, unit, cfg.Model)
	if err != nil {
		return nil, err
	}
	if cfg.Instances == nil || cfg.GitHub == nil {
		return nil, errors.New("runner manager needs both an LXD and a GitHub client")
	}
	if cfg.StateDir == "" || !filepath.IsAbs(cfg.StateDir) {
		return nil, fmt.Errorf("runner manager state folder %q is not an absolute path", cfg.StateDir)
	}
	switch cfg.InstanceType {
	case "":
		cfg.InstanceType = VirtualMachine
	case Container, VirtualMachine:
	default:
		return nil, fmt.Errorf("invalid instance type %q: want %s or %s", cfg.InstanceType, VirtualMachine, Container)
	}
	if cfg.ImageAlias == "" {
		cfg.ImageAlias = owner.ImageAlias()
	}
	if cfg.StoragePool == "" {
		cfg.StoragePool = "default"
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.BootstrapTimeout <= 0 {
		cfg.BootstrapTimeout = DefaultBootstrapTimeout
	}
	if cfg.MaxParallel <= 0 {
		cfg.MaxParallel = DefaultMaxParallel
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Labels = slices.Clone(cfg.Labels)
	cfg.Profiles = slices.Clone(cfg.Profiles)
	cfg.ImagePackages = slices.Clone(cfg.ImagePackages)
	store := &AppStore{
		dir:       filepath.Join(cfg.StateDir, "runner-binary"),
		downloads: cfg.GitHub,
		http:      cfg.HTTPClient,
		log:       cfg.Logger,
	}
	image := &ImageBuilder{
		owner:           owner,
		instances:       cfg.Instances,
		app:             store,
		alias:           cfg.ImageAlias,
		base:            cfg.BaseImage,
		instanceType:    cfg.InstanceType,
		packages:        cfg.ImagePackages,
		dockerhubMirror: cfg.DockerhubMirror,
		profiles:        cfg.Profiles,
		proxy:           cfg.Proxy,
		storagePool:     cfg.StoragePool,
		log:             cfg.Logger,
	}
	return &Manager{owner: owner, cfg: cfg, instances: cfg.Instances, github: cfg.GitHub,
		app: store, image: image, log: cfg.Logger}, nil
}

// Owner is the unit whose runners this manager manages.
func (m *Manager) Owner() Owner { return m.owner }

// RunnerApp is the unit's runner application store.
func (m *Manager) RunnerApp() *AppStore { return m.app }

// Image is the unit's runner image builder.
func (m *Manager) Image() *ImageBuilder { return m.image }

// RunnerState is what a runner is, judged from LXD and GitHub together.
type RunnerState string

// Runner states.
const (
	StateStarting RunnerState = "starting" // alive, not yet online, within the bootstrap timeout
	StateIdle     RunnerState = "idle"     // online, no job
	StateBusy     RunnerState = "busy"     // running a job
	StateDead     RunnerState = "dead"     // to be removed (Reason says why)
	StateGhost    RunnerState = "ghost"    // on GitHub, no instance
)

// RunnerInfo is one runner of this unit as LXD and GitHub see it.
type RunnerInfo struct {
	Name          string
	InstanceState string // LXD status, empty for a ghost
	GitHubID      int64  // 0 when GitHub does not know it
	Online        bool
	Busy          bool
	Healthy       bool
	State         RunnerState
	Reason        Reason // why a runner is dead or a ghost
	InstalledAt   time.Time
	// Legacy: made before the model was part of names (an upgraded unit's
	// runner from before the upgrade).
	Legacy bool
}

// Runners lists this unit's runners as LXD and GitHub see them. It needs
// GitHub.
func (m *Manager) Runners(ctx context.Context) ([]RunnerInfo, error) {
	snap, err := m.look(ctx)
	if err != nil {
		return nil, err
	}
	if snap.githubErr != nil {
		return nil, snap.githubErr
	}
	m.probe(ctx, &snap)
	return judge(snap, m.cfg.BootstrapTimeout), nil
}

func (m *Manager) lockPath() string { return filepath.Join(m.cfg.StateDir, "runners.lock") }

// parallel runs fn for 0..n-1 with at most limit at once.
func parallel(ctx context.Context, limit, n int, fn func(ctx context.Context, i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(ctx, i)
		}()
	}
	wg.Wait()
}
