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
	"sort"
	"strconv"
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
	// StoragePool holds the runners' root disks (default "default").
	StoragePool string
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
	owner, err := NewOwner(app, unit)
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
	Reason        string // why a runner is dead or a ghost
	InstalledAt   time.Time
}

// Runners lists this unit's runners as LXD and GitHub see them.
func (m *Manager) Runners(ctx context.Context) ([]RunnerInfo, error) {
	snap, err := m.observe(ctx, true)
	if err != nil {
		return nil, err
	}
	return snap.runners, nil
}

// snapshot is one look at LXD and GitHub.
type snapshot struct {
	runners []RunnerInfo
	// github is false when GitHub could not be asked; then only what LXD
	// shows is known and nothing GitHub-dependent may be decided.
	github    bool
	githubErr error
}

// observe lists this unit's instances and GitHub runners once each and judges
// every runner. With needGitHub, a GitHub failure is returned as the error;
// otherwise the snapshot is marked as LXD-only.
func (m *Manager) observe(ctx context.Context, needGitHub bool) (snapshot, error) {
	instances, err := m.instances.ListInstances(ctx, m.owner.Keys(RoleRunner))
	if err != nil {
		return snapshot{}, fmt.Errorf("cannot list runner instances: %w", err)
	}
	var owned []Instance
	for _, in := range instances {
		if m.owner.OwnsInstance(in.Name, in.Config, RoleRunner) {
			owned = append(owned, in)
		}
	}

	snap := snapshot{github: true}
	ghRunners, err := m.github.ListRunners(ctx, m.owner.Prefix())
	if err != nil {
		if needGitHub {
			return snapshot{}, fmt.Errorf("cannot list GitHub runners: %w", err)
		}
		snap.github, snap.githubErr = false, fmt.Errorf("cannot list GitHub runners: %w", err)
	}
	byName := map[string]github.Runner{}
	for _, r := range ghRunners {
		if m.owner.OwnsName(r.Name) {
			byName[r.Name] = r
		}
	}

	alive := m.probeAlive(ctx, owned)
	now := m.cfg.Now()
	for i, in := range owned {
		info := RunnerInfo{Name: in.Name, InstanceState: in.Status}
		info.InstalledAt = installedAt(in)
		gh, onGitHub := byName[in.Name]
		if onGitHub {
			info.GitHubID, info.Online, info.Busy = gh.ID, gh.Online(), gh.Busy
			delete(byName, in.Name)
		}
		recordedID, _ := strconv.ParseInt(in.Config[KeyGitHubID], 10, 64)
		age := now.Sub(info.InstalledAt)
		switch {
		case !in.Running:
			info.State, info.Reason = StateDead, "instance "+statusWord(in.Status)
		case !alive[i]:
			info.State, info.Reason = StateDead, "runner process not alive"
		case !snap.github:
			// Alive, and nothing more is known: keep it.
			info.State = StateStarting
		case info.Busy:
			info.State = StateBusy
		case info.Online:
			info.State = StateIdle
		case !onGitHub && recordedID != 0:
			info.State, info.Reason = StateDead, "de-registered from GitHub"
		case age > m.cfg.BootstrapTimeout:
			info.State, info.Reason = StateDead, fmt.Sprintf("not online after %s", m.cfg.BootstrapTimeout)
		default:
			info.State = StateStarting
		}
		if info.GitHubID == 0 {
			info.GitHubID = recordedID
		}
		info.Healthy = info.State != StateDead
		snap.runners = append(snap.runners, info)
	}
	for _, gh := range byName {
		snap.runners = append(snap.runners, RunnerInfo{
			Name: gh.Name, GitHubID: gh.ID, Online: gh.Online(), Busy: gh.Busy,
			State: StateGhost, Reason: "on GitHub without an instance",
		})
	}
	sort.Slice(snap.runners, func(i, j int) bool { return snap.runners[i].Name < snap.runners[j].Name })
	return snap, nil
}

func statusWord(s string) string {
	if s == "" {
		return "not running"
	}
	return "status " + s
}

func installedAt(in Instance) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, in.Config[KeyInstalledAt]); err == nil {
		return t
	}
	return in.CreatedAt
}

// probeAlive checks, in parallel, whether each running instance's runner
// process is alive.
func (m *Manager) probeAlive(ctx context.Context, instances []Instance) []bool {
	alive := make([]bool, len(instances))
	parallel(ctx, m.cfg.MaxParallel, len(instances), func(ctx context.Context, i int) {
		if !instances[i].Running {
			return
		}
		res, err := m.instances.Exec(ctx, instances[i].Name, Command{Args: aliveCheck})
		alive[i] = err == nil && res.ExitCode == 0
		if err != nil {
			m.log.Debug("cannot check runner process", "runner", instances[i].Name, "error", err)
		}
	})
	return alive
}

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
