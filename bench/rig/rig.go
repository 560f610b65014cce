// Package rig sets up what the benchmarks (bench/) and the resilience suite
// (chaos/) run on: the project's real LXD daemon, a GitHub simulator on the
// loopback interface, an LXD profile whose proxy device lets instances reach
// the simulator at the same 127.0.0.1 address, and a runner image built from
// the busybox test image with the simulator's stand-in runner, exactly as the
// charm builds its image. Everything the rig creates carries a name unique to
// it and goes in Close.
//
// The rig only reads and drives; it never changes the daemon's default
// profile or the busybox test image.
package rig

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
	"charm.example/github-runner/internal/runners"
)

// Options configures a Rig.
type Options struct {
	// Socket is the LXD daemon's unix socket.
	Socket string
	// BaseImage is the local alias the runner image is built from (the
	// busybox test image).
	BaseImage string
	// Name starts the names of what the rig creates (profile, image alias).
	Name string
	// Org is the simulated organisation (default "acme").
	Org string
	// Token is the personal access token the simulator accepts; empty means
	// a random one. It never appears in a name, a log line or an argv.
	Token string
	// Sim tunes the simulator; the rig sets Orgs and Tokens.
	Sim githubtest.Options
	// Logger gets the rig's own progress lines (nil: discarded).
	Logger *slog.Logger
	// ImagePackages, ImageProfiles and ImageProxy are the image build's
	// image-packages, extra LXD profiles (the simulator's profile is not
	// among them) and proxy; all empty for the busybox image.
	ImagePackages []string
	ImageProfiles []string
	ImageProxy    runners.Proxy
	// From, when set, lends its runner image and runner application to
	// the new rig, which then builds none (and does not delete the image
	// on Close). It must use the same LXD.
	From *Rig
}

// Rig is a real LXD and a GitHub simulator, wired together.
type Rig struct {
	LXD *lxd.Client
	Sim *githubtest.Server
	// Org is the simulated organisation the runners register with.
	Org string
	// Profile makes the simulator reachable inside instances.
	Profile string
	// Image is the runner image's alias.
	Image string

	socket    string
	baseImage string
	token     string
	dir       string
	log       *slog.Logger
	// binaryDir holds the verified runner application every unit's state
	// folder starts with, as the charm's does after install.
	binaryDir string
	// ownImage is true when the rig built Image and deletes it on Close.
	ownImage bool
}

// New starts the simulator, creates the proxy profile and builds the runner
// image. On error, what was made is removed again.
func New(ctx context.Context, opts Options) (_ *Rig, err error) {
	if opts.Org == "" {
		opts.Org = "acme"
	}
	if opts.Token == "" {
		opts.Token = "ghp_rig_" + randomHex(16)
	}
	if opts.Name == "" {
		opts.Name = "rig"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client, err := lxd.Connect(ctx, lxd.Options{Socket: opts.Socket})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to LXD at %s: %w", opts.Socket, err)
	}
	dir, err := os.MkdirTemp("", "github-runner-rig-")
	if err != nil {
		return nil, err
	}
	simOpts := opts.Sim
	simOpts.Orgs = []string{opts.Org}
	simOpts.Tokens = map[string][]string{opts.Token: {githubtest.ScopeAdminOrg}}
	sim, err := githubtest.Start(simOpts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	r := &Rig{LXD: client, Sim: sim, Org: opts.Org, socket: opts.Socket, baseImage: opts.BaseImage, token: opts.Token, dir: dir, log: log}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			r.Close(cctx)
		}
	}()

	r.Profile = lxdtest.UniqueName(opts.Name + "-proxy")
	_, port, err := net.SplitHostPort(sim.Addr())
	if err != nil {
		return nil, err
	}
	if err := client.CreateProfile(ctx, lxd.ProfilesPost{
		Name: r.Profile,
		ProfilePut: lxd.ProfilePut{
			Description: "github-runner rig: the GitHub simulator on the instance's 127.0.0.1",
			Devices: map[string]map[string]string{
				"github": lxdtest.LoopbackProxy(port),
			},
		},
	}); err != nil {
		return nil, fmt.Errorf("cannot create the proxy profile: %w", err)
	}

	if opts.From != nil {
		r.Image, r.binaryDir = opts.From.Image, opts.From.binaryDir
		return r, nil
	}
	r.Image, r.ownImage = lxdtest.UniqueName(opts.Name+"-image"), true
	start := time.Now()
	if err := r.buildImage(ctx, opts); err != nil {
		return nil, fmt.Errorf("cannot build the runner image: %w", err)
	}
	log.Info("runner image built", "alias", r.Image, "took", time.Since(start).Round(time.Millisecond))
	return r, nil
}

// buildImage builds the runner image with a manager of a unit of its own,
// as the charm does at install.
func (r *Rig) buildImage(ctx context.Context, opts Options) error {
	u, err := r.NewUnit("imagebuild")
	if err != nil {
		return err
	}
	m, err := r.Manager(u, func(c *runners.Config) {
		c.BaseImage = runners.ImageSource{Alias: opts.BaseImage}
		c.Profiles = opts.ImageProfiles
		c.ImagePackages = opts.ImagePackages
		c.Proxy = opts.ImageProxy
	})
	if err != nil {
		return err
	}
	dl, err := m.RunnerApp().Latest(ctx, "linux")
	if err != nil {
		return err
	}
	if _, err := m.RunnerApp().Update(ctx, dl); err != nil {
		return err
	}
	r.binaryDir = filepath.Join(u.StateDir, runnerBinaryDir)
	return m.Image().Build(ctx)
}

// runnerBinaryDir is the runner manager's folder for the runner
// application, inside its state folder.
const runnerBinaryDir = "runner-binary"

// Close removes the runner image (unless lent by another rig), the profile
// and the rig's files, and stops the simulator. The units' instances must
// be gone first (see Clean).
func (r *Rig) Close(ctx context.Context) error {
	var errs []error
	if r.ownImage {
		if a, err := r.LXD.GetImageAlias(ctx, r.Image); err == nil {
			op, err := r.LXD.DeleteImage(ctx, a.Target)
			if err == nil {
				err = op.Wait(ctx)
			}
			if err != nil && !errors.Is(err, lxd.ErrNotFound) {
				errs = append(errs, fmt.Errorf("cannot delete the runner image: %w", err))
			}
		} else if !errors.Is(err, lxd.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if r.Profile != "" {
		if err := r.LXD.DeleteProfile(ctx, r.Profile); err != nil && !errors.Is(err, lxd.ErrNotFound) {
			errs = append(errs, fmt.Errorf("cannot delete the proxy profile: %w", err))
		}
	}
	r.Sim.Close()
	errs = append(errs, os.RemoveAll(r.dir))
	return errors.Join(errs...)
}

// Socket is the LXD socket the rig uses.
func (r *Rig) Socket() string { return r.socket }

// Token is the token the simulator accepts. Pass it to processes in their
// environment, never on a command line.
func (r *Rig) Token() string { return r.token }

// Dir is a private folder of the rig's, removed by Close.
func (r *Rig) Dir() string { return r.dir }

// GitHub returns a client of the simulator's organisation; adjust may change
// its configuration (an HTTP timeout, a logger).
func (r *Rig) GitHub(adjust func(*github.Config)) (*github.Client, error) {
	cfg := github.Config{Path: r.Org, Token: r.token, APIURL: r.Sim.URL()}
	if adjust != nil {
		adjust(&cfg)
	}
	return github.New(cfg)
}

// Unit is one simulated charm unit: its names and its state folder.
type Unit struct {
	App, Name string
	// Model is the unit's model UUID, of its own.
	Model string
	Owner runners.Owner
	// StateDir is the runner manager's folder (lock, runner application).
	StateDir string
}

// NewUnit names a fresh unit `<prefix>-u<hex>/0` with a state folder of its
// own holding the verified runner application, as a unit's does after its
// install hook. Every segment of the application name holds a letter, as
// Juju asks.
func (r *Rig) NewUnit(prefix string) (Unit, error) {
	app := strings.ToLower(prefix) + "-u" + randomHex(4)
	name := app + "/0"
	model := fmt.Sprintf("%s-%s-4%s-8%s-%s", randomHex(4), randomHex(2), randomHex(2)[1:], randomHex(2)[1:], randomHex(6))
	owner, err := runners.NewOwnerInModel(app, name, model)
	if err != nil {
		return Unit{}, err
	}
	dir, err := os.MkdirTemp(r.dir, "state-")
	if err != nil {
		return Unit{}, err
	}
	if r.binaryDir != "" {
		if err := os.CopyFS(filepath.Join(dir, runnerBinaryDir), os.DirFS(r.binaryDir)); err != nil {
			return Unit{}, fmt.Errorf("cannot copy the runner application: %w", err)
		}
	}
	return Unit{App: app, Name: name, Model: model, Owner: owner, StateDir: dir}, nil
}

// Resources are what every runner of the rig gets.
var Resources = runners.Resources{CPU: 1, Memory: 256 * runners.MiB, Disk: 1 * runners.GiB}

// ManagerConfig is the runner manager configuration the rig uses for u: the
// same as the charm builds from CharmConfig (and its command line from
// CLICmd's flags), with the rig's image alias.
func (r *Rig) ManagerConfig(u Unit, gh runners.GitHub) runners.Config {
	return runners.Config{
		Instances:        runners.LXDInstances{Client: r.LXD},
		GitHub:           gh,
		StateDir:         u.StateDir,
		InstanceType:     runners.Container,
		ImageAlias:       r.Image,
		Profiles:         []string{r.Profile},
		Labels:           []string{"rig"},
		BootstrapTimeout: time.Minute,
		MaxParallel:      runners.DefaultMaxParallel,
		Model:            u.Model,
	}
}

// Manager returns a runner manager for u over a fresh GitHub client;
// adjust may change its configuration.
func (r *Rig) Manager(u Unit, adjust func(*runners.Config)) (*runners.Manager, error) {
	gh, err := r.GitHub(nil)
	if err != nil {
		return nil, err
	}
	cfg := r.ManagerConfig(u, gh)
	if adjust != nil {
		adjust(&cfg)
	}
	return runners.New(u.App, u.Name, cfg)
}

// Instances lists the runner instances of u in LXD, by name.
func (r *Rig) Instances(ctx context.Context, u Unit) ([]lxd.Instance, error) {
	list, err := r.LXD.GetInstances(ctx, lxd.InstanceFilter{Config: u.Owner.Keys(runners.RoleRunner)})
	if err != nil {
		return nil, err
	}
	var out []lxd.Instance
	for _, in := range list {
		if u.Owner.OwnsInstance(in.Name, in.Config, runners.RoleRunner) {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// GitHubRunners lists u's runners on the simulator, by name.
func (r *Rig) GitHubRunners(u Unit) []githubtest.Runner {
	var out []githubtest.Runner
	for _, gr := range r.Sim.Runners(r.Org) {
		if u.Owner.OwnsName(gr.Name) {
			out = append(out, gr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Online counts u's online runners on the simulator.
func (r *Rig) Online(u Unit) int {
	n := 0
	for _, gr := range r.GitHubRunners(u) {
		if gr.Online() {
			n++
		}
	}
	return n
}

// WaitOnline waits until exactly n of u's runners are online.
func (r *Rig) WaitOnline(ctx context.Context, u Unit, n int) error {
	err := r.Sim.WaitFor(ctx, func() bool { return r.Online(u) == n })
	if err != nil {
		return fmt.Errorf("waiting for %d runners of %s online (have %d): %w", n, u.Name, r.Online(u), err)
	}
	return nil
}

// Census is what LXD and GitHub hold of a unit at one moment.
type Census struct {
	Instances []string // running or not, by name
	Running   int
	GitHub    []string // by name
}

// Take reads u's instances and GitHub runners.
func (r *Rig) Take(ctx context.Context, u Unit) (Census, error) {
	list, err := r.Instances(ctx, u)
	if err != nil {
		return Census{}, err
	}
	var c Census
	for _, in := range list {
		c.Instances = append(c.Instances, in.Name)
		if in.Running() {
			c.Running++
		}
	}
	for _, gr := range r.GitHubRunners(u) {
		c.GitHub = append(c.GitHub, gr.Name)
	}
	return c, nil
}

// Converged says whether the census shows exactly want runners, the same
// names in LXD (all running) and on GitHub; if not, Why says what differs.
func (c Census) Converged(want int) bool { return c.Why(want) == "" }

// Why is "" for a converged census, else what differs from want.
func (c Census) Why(want int) string {
	var why []string
	if len(c.Instances) != want {
		why = append(why, fmt.Sprintf("%d instances, want %d", len(c.Instances), want))
	}
	if c.Running != len(c.Instances) {
		why = append(why, fmt.Sprintf("%d of %d instances running", c.Running, len(c.Instances)))
	}
	if len(c.GitHub) != want {
		why = append(why, fmt.Sprintf("%d GitHub runners, want %d", len(c.GitHub), want))
	}
	if !slices.Equal(c.Instances, c.GitHub) {
		why = append(why, fmt.Sprintf("names differ: LXD %v, GitHub %v", c.Instances, c.GitHub))
	}
	return strings.Join(why, "; ")
}

// LendImage points u's own runner image alias (the one the charm and its
// command line use) at the rig's runner image, so that they find it built.
// Clean removes the alias again.
func (r *Rig) LendImage(ctx context.Context, u Unit) error {
	a, err := r.LXD.GetImageAlias(ctx, r.Image)
	if err != nil {
		return fmt.Errorf("cannot look up the runner image: %w", err)
	}
	return r.LXD.SetImageAlias(ctx, u.Owner.ImageAlias(), a.Target)
}

// unlendImage removes u's image alias if it points at the rig's image.
func (r *Rig) unlendImage(ctx context.Context, u Unit) error {
	lent, err := r.LXD.GetImageAlias(ctx, u.Owner.ImageAlias())
	if errors.Is(err, lxd.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	own, err := r.LXD.GetImageAlias(ctx, r.Image)
	if err != nil || own.Target != lent.Target {
		return err
	}
	if err := r.LXD.DeleteImageAlias(ctx, u.Owner.ImageAlias()); err != nil && !errors.Is(err, lxd.ErrNotFound) {
		return err
	}
	return nil
}

// cleanParallel bounds Clean's concurrent removals.
const cleanParallel = 8

// Clean removes every instance of u (runners and image builders) from LXD
// and its runners from the simulator, whatever their state.
func (r *Rig) Clean(ctx context.Context, u Unit) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	sem := make(chan struct{}, cleanParallel)
	for _, role := range []string{runners.RoleRunner, runners.RoleBuilder} {
		list, err := r.LXD.GetInstances(ctx, lxd.InstanceFilter{Config: u.Owner.Keys(role)})
		if err != nil {
			fail(err)
			continue
		}
		for _, in := range list {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := r.LXD.RemoveInstance(ctx, in.Name); err != nil {
					fail(err)
				}
			}()
		}
	}
	wg.Wait()
	if err := r.unlendImage(ctx, u); err != nil {
		errs = append(errs, err)
	}
	gh, err := r.GitHub(nil)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, gr := range r.GitHubRunners(u) {
		if gr.Busy {
			// A busy runner cannot be de-registered; its instance is gone,
			// so its job fails and GitHub lets go of it.
			_ = r.Sim.WaitFor(ctx, func() bool {
				cur, ok := r.Sim.Runner(gr.ID)
				return !ok || !cur.Busy
			})
		}
		if err := gh.DeleteRunner(ctx, gr.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RESTCounts is the difference in the simulator's REST request counts
// between two readings of Counts, leaving out the stand-in runners' own
// traffic (/_runner/), the control API (/_sim/) and downloads.
func RESTCounts(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		_, path, _ := strings.Cut(k, " ")
		if strings.HasPrefix(path, "/_") || strings.HasPrefix(path, "/actions/runner/releases/") {
			continue
		}
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("cannot read random bytes: %v", err))
	}
	return hex.EncodeToString(b)
}

// StateFile is a path inside u's state folder.
func (u Unit) StateFile(name string) string { return filepath.Join(u.StateDir, name) }
