// Package e2e tests the charm end to end: the real packed charm binary run
// by the Juju simulator (jujutest), managing real LXD containers of the
// project's test daemon, registered with the GitHub simulator (githubtest)
// whose stand-in runner application runs inside them and takes jobs.
package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/juju/jujutest"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
	"charm.example/github-runner/internal/runners"
)

// Tokens the GitHub simulator knows.
const (
	adminToken   = "ghp_e2eAdminTokenValue0123456789"  // admin:org and repo
	otherToken   = "ghp_e2eOtherTokenValue9876543210"  // admin:org and repo
	noScopeToken = "ghp_e2eNoScopeTokenValue000000000" // valid, no scopes
	org          = "acme"
)

// env is one deployed unit and everything around it.
type env struct {
	t       *testing.T
	gh      *githubtest.Server
	lxd     *lxd.Client
	sim     *jujutest.Sim
	app     string
	unit    string
	prefix  string // runner names start with it
	model   string // the model's UUID
	profile string
	cronDir string
	config  map[string]any
	// ghPath is the simulator's path of the unit's runners (default org).
	ghPath string
}

// newEnv starts a GitHub simulator, a proxy profile through which the
// containers reach it, and a simulated unit of the packed charm configured
// for the test daemon, the busybox image and the simulator. Nothing runs
// yet: call Deploy. When the test ends the unit is removed (stop, remove),
// and anything it left behind is cleaned up and reported as a failure.
func newEnv(t *testing.T, prefix string, config map[string]any) *env {
	t.Helper()
	return newEnvWith(t, envOptions{Prefix: prefix, Config: config})
}

// envOptions are newEnvWith's.
type envOptions struct {
	Prefix string
	Config map[string]any
	// GitHub is a simulator to share with another env; nil starts one,
	// adjusted by GitHubOptions.
	GitHub        *githubtest.Server
	GitHubOptions func(*githubtest.Options)
	// App and Model, when set, name the application and the model's UUID
	// (default: a unique name from Prefix, a random UUID).
	App, Model string
	// Profiles are LXD profiles given in lxd-profiles after the
	// simulator's.
	Profiles []string
	// HTTPProxy, HTTPSProxy and NoProxy are the model's proxy settings.
	HTTPProxy, HTTPSProxy, NoProxy string
}

// newGitHub starts the GitHub simulator the tests use, with its options
// adjusted by adjust (if not nil).
func newGitHub(t *testing.T, adjust func(*githubtest.Options)) *githubtest.Server {
	ghOpts := githubtest.Options{
		Orgs: []string{org},
		Tokens: map[string][]string{
			adminToken:   {githubtest.ScopeAdminOrg, githubtest.ScopeRepo},
			otherToken:   {githubtest.ScopeAdminOrg, githubtest.ScopeRepo},
			noScopeToken: nil,
		},
	}
	if adjust != nil {
		adjust(&ghOpts)
	}
	gh := githubtest.NewServer(ghOpts)
	t.Cleanup(gh.Close)
	return gh
}

func newEnvWith(t *testing.T, opts envOptions) *env {
	t.Helper()
	prefix, config := opts.Prefix, opts.Config
	sock := lxdtest.Socket(t)
	client := lxdtest.Client(t)
	gh := opts.GitHub
	if gh == nil {
		gh = newGitHub(t, opts.GitHubOptions)
	}

	_, port, err := net.SplitHostPort(gh.Addr())
	require.NoError(t, err)
	profile := lxdtest.UniqueName("e2e-ghsim")
	ctx := testContext(t, time.Minute)
	require.NoError(t, client.CreateProfile(ctx, lxd.ProfilesPost{Name: profile, ProfilePut: lxd.ProfilePut{
		Description: "GitHub simulator proxy for " + t.Name(),
		Devices:     map[string]map[string]string{"github-sim": lxdtest.LoopbackProxy(port)},
	}}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := client.DeleteProfile(ctx, profile); err != nil {
			t.Errorf("cannot delete profile %s: %v", profile, err)
		}
	})

	// Juju wants a letter in every hyphen-separated part of a name.
	app := opts.App
	if app == "" {
		app = lxdtest.UniqueName(prefix) + "x"
	}
	unit := app + "/0"
	// A model of its own, as each deployment has.
	model := opts.Model
	if model == "" {
		model = newModelUUID(t)
	}
	owner, err := runners.NewOwnerInModel(app, unit, model)
	require.NoError(t, err)
	dir := t.TempDir()
	cfg := map[string]any{
		"path":               org,
		"token":              adminToken,
		"github-api-url":     gh.URL(),
		"lxd-socket":         sock,
		"lxd-profiles":       strings.Join(append([]string{profile}, opts.Profiles...), ","),
		"instance-type":      "container",
		"base-image":         lxdtest.Image(),
		"image-packages":     "",
		"vm-cpu":             1,
		"vm-memory":          "256MiB",
		"vm-disk":            "1GiB",
		"virtual-machines":   1,
		"reconcile-interval": 2,
		// Off, so that the tests see what the timer does; the exit
		// watcher has a test of its own.
		"reconcile-on-exit": false,
		// No metrics (so no watcher) unless a test asks: parallel units
		// would share the default port.
		"metrics-port":    0,
		"timer-directory": filepath.Join(dir, "systemd"),
		"cron-directory":  filepath.Join(dir, "cron.d"),
	}
	for k, v := range config {
		cfg[k] = v
	}
	e := &env{
		t: t, gh: gh, lxd: client, app: app, unit: unit, prefix: owner.Prefix(), model: model,
		profile: profile, cronDir: filepath.Join(dir, "cron.d"), config: cfg, ghPath: org,
	}
	e.sim = jujutest.Start(t, jujutest.Options{Charm: builds.Charm, Tools: builds.Tools, Unit: unit, ModelUUID: model, Config: cfg,
		HTTPProxy: opts.HTTPProxy, HTTPSProxy: opts.HTTPSProxy, NoProxy: opts.NoProxy, PrivateAddress: "127.0.0.1"})
	t.Cleanup(e.cleanup)
	return e
}

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// cleanup removes the unit as Juju would, then makes sure nothing of it is
// left in LXD (removing and reporting leftovers).
func (e *env) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.sim.Remove(ctx); err != nil {
		e.t.Errorf("removing the unit: %v", err)
	}
	for _, name := range e.instances(ctx) {
		e.t.Errorf("instance %s left behind", name)
		if err := e.lxd.RemoveInstance(ctx, name); err != nil {
			e.t.Errorf("cannot remove %s: %v", name, err)
		}
	}
	if a, err := e.lxd.GetImageAlias(ctx, e.prefix+"image"); err == nil {
		e.t.Errorf("runner image %s left behind", e.prefix+"image")
		if op, err := e.lxd.DeleteImage(ctx, a.Target); err == nil {
			_ = op.Wait(ctx)
		}
	}
	if _, _, err := e.lxd.GetStoragePool(ctx, e.prefix+"pool"); err == nil {
		e.t.Errorf("runner storage pool %s left behind; unit log:\n%s", e.prefix+"pool", e.logTail(15))
		lxdtest.DeleteStoragePool(e.t, e.lxd, e.prefix+"pool")
	}
}

// instances are the names of the unit's instances in LXD.
func (e *env) instances(ctx context.Context) []string {
	e.t.Helper()
	list, err := e.lxd.GetInstances(ctx, lxd.InstanceFilter{Config: map[string]string{runners.KeyApp: e.app}})
	require.NoError(e.t, err)
	var names []string
	for _, in := range list {
		if e.mine(in.Config) {
			names = append(names, in.Name)
		}
	}
	sort.Strings(names)
	return names
}

// mine says whether instance config is of this env's model (or of none:
// made before the model was part of names).
func (e *env) mine(config map[string]string) bool {
	m := config[runners.KeyModel]
	return m == "" || m == e.model
}

// runnerInstances are the names of the unit's running runner instances.
func (e *env) runnerInstances(ctx context.Context) []string {
	e.t.Helper()
	list, err := e.lxd.GetInstances(ctx, lxd.InstanceFilter{Config: map[string]string{runners.KeyApp: e.app, runners.KeyRole: runners.RoleRunner}})
	require.NoError(e.t, err)
	var names []string
	for _, in := range list {
		if in.Running() && e.mine(in.Config) {
			names = append(names, in.Name)
		}
	}
	sort.Strings(names)
	return names
}

// ghRunners are the unit's runners on the GitHub simulator.
func (e *env) ghRunners() []githubtest.Runner {
	var out []githubtest.Runner
	for _, r := range e.gh.Runners(e.ghPath) {
		if strings.HasPrefix(r.Name, e.prefix) {
			out = append(out, r)
		}
	}
	return out
}

func names(rs []githubtest.Runner) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

// waitOnline waits until the unit has exactly n runners on GitHub, all
// online and idle, and returns their names.
func (e *env) waitOnline(ctx context.Context, n int) []string {
	e.t.Helper()
	var last []githubtest.Runner
	err := e.gh.WaitFor(ctx, func() bool {
		last = e.ghRunners()
		if len(last) != n {
			return false
		}
		for _, r := range last {
			if r.Status != "online" || r.Busy {
				return false
			}
		}
		return true
	})
	require.NoError(e.t, err, "waiting for %d idle runners online; last seen %+v; unit log:\n%s", n, last, e.logTail(30))
	return names(last)
}

// deploy runs the deployment hooks and requires that they succeed.
func (e *env) deploy(ctx context.Context) jujutest.Snapshot {
	e.t.Helper()
	snap, err := e.sim.Deploy(ctx)
	require.NoError(e.t, err, "unit log:\n%s", e.logTail(40))
	return snap
}

// hook runs a hook and requires that it succeed.
func (e *env) hook(ctx context.Context, name string) {
	e.t.Helper()
	_, err := e.sim.RunHook(ctx, name)
	require.NoError(e.t, err, "unit log:\n%s", e.logTail(40))
}

// action runs an action and requires that it complete.
func (e *env) action(ctx context.Context, name string, params map[string]any) jujutest.ActionResult {
	e.t.Helper()
	res, err := e.sim.RunAction(ctx, name, params)
	require.NoError(e.t, err)
	require.Equal(e.t, "completed", res.Status, "%s: %s; unit log:\n%s", name, res.Message, e.logTail(40))
	return res
}

// logTail is the unit's last n log lines, for failure messages.
func (e *env) logTail(n int) string {
	logs := e.sim.Logs()
	if len(logs) > n {
		logs = logs[len(logs)-n:]
	}
	var b strings.Builder
	for _, l := range logs {
		fmt.Fprintf(&b, "  %s %s: %s\n", l.Context, l.Level, l.Message)
	}
	return b.String()
}

// imageFingerprint is what the unit's runner image alias points at.
func (e *env) imageFingerprint(ctx context.Context) string {
	e.t.Helper()
	a, err := e.lxd.GetImageAlias(ctx, e.prefix+"image")
	require.NoError(e.t, err)
	return a.Target
}

// cronLine is the command of the first entry of a cron file the charm
// wrote: what cron runs, verbatim.
func (e *env) cronLine(file string) string {
	e.t.Helper()
	f, err := os.Open(file)
	require.NoError(e.t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.Contains(strings.SplitN(line, " ", 2)[0], "=") {
			continue
		}
		// minute hour day month weekday user command
		fields := strings.Fields(line)
		require.GreaterOrEqual(e.t, len(fields), 7, line)
		_, cmd, ok := strings.Cut(line, " "+fields[5]+" ")
		require.True(e.t, ok, line)
		return cmd
	}
	require.NoError(e.t, sc.Err())
	e.t.Fatalf("no entry in %s", file)
	return ""
}

// requireGone requires that nothing of the unit is left: no instance, no
// GitHub runner, no runner image.
func (e *env) requireGone(ctx context.Context) {
	e.t.Helper()
	require.Empty(e.t, e.instances(ctx), "instances")
	require.Empty(e.t, e.ghRunners(), "GitHub runners")
	_, err := e.lxd.GetImageAlias(ctx, e.prefix+"image")
	require.True(e.t, errors.Is(err, lxd.ErrNotFound), "the runner image is deleted: %v", err)
}

// newModelUUID returns a random model UUID (version 4).
func newModelUUID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
