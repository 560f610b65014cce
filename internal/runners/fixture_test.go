package runners_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github"
	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
	"charm.example/github-runner/internal/runners"
)

const (
	org   = "acme"
	token = "ghp_runners_test_token"
)

// fixture is a real LXD, a GitHub simulator, a profile that lets instances
// reach the simulator, and the runner image shared by the package's tests.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	lxd     *lxd.Client
	sim     *githubtest.Server
	gh      *github.Client
	profile string
	image   string
}

var (
	imageOnce  sync.Once
	imageAlias string
	imageErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if imageAlias != "" {
		cleanupImage(imageAlias)
	}
	os.Exit(code)
}

func cleanupImage(alias string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := lxd.New(lxd.Options{Socket: lxdtest.SocketPath()})
	if err != nil {
		return
	}
	if a, err := c.GetImageAlias(ctx, alias); err == nil {
		if op, err := c.DeleteImage(ctx, a.Target); err == nil {
			op.Wait(ctx)
		}
	}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sock := lxdtest.Socket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	client, err := lxd.New(lxd.Options{Socket: sock})
	require.NoError(t, err)

	sim := githubtest.NewServer(githubtest.Options{
		Orgs:   []string{org},
		Tokens: map[string][]string{token: {githubtest.ScopeAdminOrg}},
	})
	t.Cleanup(sim.Close)
	gh, err := github.New(github.Config{Path: org, Token: token, APIURL: sim.URL()})
	require.NoError(t, err)

	f := &fixture{t: t, ctx: ctx, lxd: client, sim: sim, gh: gh}
	f.profile = f.proxyProfile(sim.Addr())

	imageOnce.Do(func() { imageAlias, imageErr = buildSharedImage(ctx, client, gh) })
	require.NoError(t, imageErr, "cannot build the shared runner image")
	f.image = imageAlias
	return f
}

// proxyProfile creates a profile whose proxy device makes the host's
// 127.0.0.1:port reachable at the same address inside an instance.
func (f *fixture) proxyProfile(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	require.NoError(f.t, err)
	name := lxdtest.UniqueName("runners-proxy")
	require.NoError(f.t, f.lxd.CreateProfile(f.ctx, lxd.ProfilesPost{
		Name: name,
		ProfilePut: lxd.ProfilePut{Devices: map[string]map[string]string{
			"github": lxdtest.LoopbackProxy(port),
		}},
	}))
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		f.lxd.DeleteProfile(ctx, name)
	})
	return name
}

// buildSharedImage builds one runner image from the busybox test image with
// the simulator's stand-in runner, for every test of the package.
func buildSharedImage(ctx context.Context, client *lxd.Client, gh *github.Client) (string, error) {
	dir, err := os.MkdirTemp("", "runners-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	alias := lxdtest.UniqueName("runners-test-image")
	m, err := runners.New("imagebuilder", "imagebuilder/0", runners.Config{
		Instances:    runners.LXDInstances{Client: client},
		GitHub:       gh,
		StateDir:     dir,
		InstanceType: runners.Container,
		ImageAlias:   alias,
		BaseImage:    runners.ImageSource{Alias: lxdtest.Image()},
	})
	if err != nil {
		return "", err
	}
	dl, err := m.RunnerApp().Latest(ctx, "linux")
	if err != nil {
		return "", err
	}
	if _, err := m.RunnerApp().Update(ctx, dl); err != nil {
		return "", err
	}
	if err := m.Image().Build(ctx); err != nil {
		return "", err
	}
	return alias, nil
}

// testLogger collects the manager's log lines.
type testLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLogger) Enabled(context.Context, slog.Level) bool { return true }
func (l *testLogger) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}
func (l *testLogger) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *testLogger) WithGroup(string) slog.Handler      { return l }
func (l *testLogger) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

type managerOpt func(*runners.Config)

// manager returns a runner manager for unit of app on the fixture.
func (f *fixture) manager(app, unit string, opts ...managerOpt) (*runners.Manager, *testLogger) {
	f.t.Helper()
	log := &testLogger{}
	cfg := runners.Config{
		Instances:        runners.LXDInstances{Client: f.lxd},
		GitHub:           f.gh,
		StateDir:         f.t.TempDir(),
		InstanceType:     runners.Container,
		ImageAlias:       f.image,
		Profiles:         []string{f.profile},
		Labels:           []string{"runners-test"},
		BootstrapTimeout: time.Minute,
		MaxParallel:      4,
		Logger:           slog.New(log),
	}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := runners.New(app, unit, cfg)
	require.NoError(f.t, err)
	f.t.Cleanup(func() {
		// Whatever a test leaves, its instances go.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		list, _ := f.lxd.GetInstances(ctx, lxd.InstanceFilter{Config: map[string]string{runners.KeyUnit: unit, runners.KeyApp: app}})
		for _, in := range list {
			f.lxd.RemoveInstance(ctx, in.Name)
		}
	})
	return m, log
}

var res = runners.Resources{CPU: 1, Memory: 256 * runners.MiB, Disk: 1 * runners.GiB}

// instances lists the instances of a unit.
func (f *fixture) instances(m *runners.Manager) []string {
	f.t.Helper()
	list, err := f.lxd.GetInstances(f.ctx, lxd.InstanceFilter{Config: m.Owner().Keys(runners.RoleRunner)})
	require.NoError(f.t, err)
	var names []string
	for _, in := range list {
		names = append(names, in.Name)
	}
	return names
}

// ghRunners lists the simulator's runners of a unit.
func (f *fixture) ghRunners(m *runners.Manager) []githubtest.Runner {
	var out []githubtest.Runner
	for _, r := range f.sim.Runners(org) {
		if m.Owner().OwnsName(r.Name) {
			out = append(out, r)
		}
	}
	return out
}

// waitOnline waits until n runners of the unit are online on GitHub.
func (f *fixture) waitOnline(m *runners.Manager, n int) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, time.Minute)
	defer cancel()
	err := f.sim.WaitFor(ctx, func() bool {
		online := 0
		for _, r := range f.ghRunners(m) {
			if r.Status == "online" {
				online++
			}
		}
		return online == n
	})
	require.NoError(f.t, err, "waiting for %d runners online; have %+v", n, f.ghRunners(m))
}

// waitFor polls cond until it holds.
func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
