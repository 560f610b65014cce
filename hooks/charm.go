package hooks

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"

	"golang.org/x/net/http/httpproxy"

	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/runners"
	"charm.example/github-runner/internal/schedule"
)

// Deps are the charm's collaborators, given by main.
type Deps struct {
	// TimerBackend is what runs the reconcile timer: schedule.Systemd on a
	// machine that systemd runs, schedule.Cron elsewhere. Empty means
	// schedule.SystemdBooted decides.
	TimerBackend schedule.Backend
}

// Charm is the charm's behaviour, one method per event.
type Charm struct {
	deps Deps
}

// New returns the charm with its collaborators.
func New(deps Deps) *Charm {
	if deps.TimerBackend == "" {
		deps.TimerBackend = schedule.Cron
		if schedule.SystemdBooted() {
			deps.TimerBackend = schedule.Systemd
		}
	}
	return &Charm{deps: deps}
}

// Handlers is the charm's routing table.
func (c *Charm) Handlers() Handlers {
	return c.recorded(Handlers{
		Hooks: map[string]Handler{
			"install":        c.install,
			"config-changed": c.configChanged,
			// A token kept in a secret got new content.
			"secret-changed": c.configChanged,
			"start":          c.start,
			"upgrade-charm":  c.upgradeCharm,
			"update-status":  c.updateStatus,
			"stop":           c.stop,
			"remove":         c.remove,

			CosAgentEndpoint + "-relation-joined":  c.cosAgentChanged,
			CosAgentEndpoint + "-relation-changed": c.cosAgentChanged,
		},
		Actions: map[string]Handler{
			"check-runners":     c.checkRunners,
			"reconcile-runners": c.reconcileRunners,
			"flush-runners":     c.flushRunners,
			"build-image":       c.buildImage,
			"update-runner-bin": c.updateRunnerBin,
		},
		Events: map[string]Handler{
			schedule.EventReconcile:  c.timerReconcile,
			schedule.EventBuildImage: c.scheduledImageBuild,
		},
	})
}

// StateDirFor is the pool's state folder for a unit whose charm folder is
// charmDir: <agent folder>/github-runner-state, so that it is per unit and
// goes with the unit.
func StateDirFor(charmDir string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(charmDir)), pool.StateDirName)
}

// session is one event's view of the unit: the valid settings and the
// pool built from them.
type session struct {
	c     *Charm
	ev    Event
	pool  *pool.Pool
	mem   *charmMemory
	sched schedules
}

// open loads and checks the settings, builds the pool and checks that LXD
// has what the settings name. Problems come back as errors for the
// dispatcher to classify.
func (c *Charm) open(ctx context.Context, ev Event) (*session, error) {
	s, err := LoadSettings(ctx, ev.Juju)
	if err != nil {
		return nil, err
	}
	return c.openWith(ctx, ev, s)
}

// openWith is open with the settings already loaded and valid.
func (c *Charm) openWith(ctx context.Context, ev Event, s pool.Settings) (*session, error) {
	ses := &session{c: c, ev: ev, mem: &charmMemory{j: ev.Juju, log: ev.Log}, sched: schedules{c: c, ev: ev}}
	p, err := pool.Open(s, c.poolOptions(ev, ses))
	if err != nil {
		return nil, err
	}
	if err := p.CheckLXD(ctx); err != nil {
		return nil, err
	}
	ses.pool = p
	return ses, nil
}

// poolOptions are the pool's options for this unit; ses, when not nil,
// keeps the memory, the periodic jobs and the progress reports.
func (c *Charm) poolOptions(ev Event, ses *session) pool.Options {
	env := ev.Juju.Env()
	opts := pool.Options{
		App:      env.AppName(),
		Unit:     env.UnitName,
		Model:    env.ModelUUID,
		StateDir: StateDirFor(env.CharmDir),
		Proxy:    jujuProxy(env),
		// The image build and the runners get the model's proxy too.
		ModelProxy: runners.Proxy{HTTP: env.HTTPProxy, HTTPS: env.HTTPSProxy, NoProxy: env.NoProxy},
		// Every record costs a juju-log call: the clients' per-request
		// debug lines stay out.
		Logger:  slog.New(minLevel{Handler: ev.Log.Handler(), level: slog.LevelInfo}),
		Metrics: ev.Metrics,
	}
	if ses != nil {
		opts.Memory, opts.Schedules, opts.Reporter = ses.mem, ses.sched, ses
	}
	return opts
}

// jujuProxy is the model's proxy for charms (juju-http-proxy and so on),
// or nil when none is set.
func jujuProxy(env juju.Env) func(*http.Request) (*url.URL, error) {
	if env.HTTPProxy == "" && env.HTTPSProxy == "" {
		return nil
	}
	f := (&httpproxy.Config{HTTPProxy: env.HTTPProxy, HTTPSProxy: env.HTTPSProxy, NoProxy: env.NoProxy}).ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return f(r.URL) }
}

// minLevel drops records below level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

// Enabled implements slog.Handler.
func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

// WithAttrs implements slog.Handler.
func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(attrs), level: h.level}
}

// WithGroup implements slog.Handler.
func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), level: h.level}
}

// Progress implements pool.Reporter: a Maintenance status, and for an
// action a line `juju run` shows.
func (s *session) Progress(ctx context.Context, msg string) error {
	if s.ev.Kind == juju.ActionEvent {
		if err := s.ev.Juju.ActionLog(ctx, msg); err != nil {
			return err
		}
	}
	return s.ev.Juju.SetStatus(ctx, juju.Maintenance(msg))
}

// RunnerVersion implements pool.Reporter: the workload version.
func (s *session) RunnerVersion(ctx context.Context, version string) error {
	return s.ev.Juju.SetApplicationVersion(ctx, version)
}

// refreshStatus sets the Active status summing up the runners.
func (s *session) refreshStatus(ctx context.Context) error {
	rs, err := s.pool.Runners(ctx)
	if err != nil {
		return err
	}
	return s.statusFrom(ctx, rs)
}

// statusFrom sets the Active status summing up rs.
func (s *session) statusFrom(ctx context.Context, rs []runners.RunnerInfo) error {
	return s.ev.Juju.SetStatus(ctx, juju.Active(pool.Summary(s.pool.Settings().VirtualMachines, rs)))
}

// converge brings the unit to its settings and, with o.Reconcile, ends
// with the status summing up the runners the reconcile left.
func (s *session) converge(ctx context.Context, o pool.ConvergeOptions) (*runners.Result, error) {
	res, err := s.pool.Converge(ctx, o)
	switch {
	case err != nil && res != nil:
		// The reconcile failed: the status still sums up what there is,
		// and the error makes the hook retry.
		if serr := s.refreshStatus(ctx); serr != nil {
			s.ev.Log.Warn("cannot refresh the status", "err", serr)
		}
	case err == nil && res != nil:
		// The reconcile just looked at every runner: no need to ask again.
		err = s.statusFrom(ctx, res.Runners)
	}
	return res, err
}

// install sets the machine up: LXD (installed with snap if there is none),
// then, when the configuration is valid, the runner application, the
// runner image and the periodic jobs. The runners start with the start hook.
func (c *Charm) install(ctx context.Context, ev Event) error {
	if err := ev.Juju.SetStatus(ctx, juju.Maintenance("installing: looking for LXD")); err != nil {
		return err
	}
	s, cerr := LoadSettings(ctx, ev.Juju)
	socket := s.LXDSocket
	if config.HasProblem(cerr, "lxd-socket") {
		socket = ""
	}
	lerr := c.ensureLXD(ctx, ev, socket)
	switch {
	case lerr != nil && pool.Classify(lerr).Kind == pool.Retry:
		return lerr
	case cerr != nil:
		// The options come first: a fresh unit is blocked on path and
		// token whatever else is missing.
		return cerr
	case lerr != nil:
		return lerr
	}
	ses, err := c.openWith(ctx, ev, s)
	if err != nil {
		return err
	}
	_, err = ses.converge(ctx, pool.ConvergeOptions{})
	return err
}

// configChanged re-reads everything (the hook carries no diff) and brings
// the unit to it: new GitHub credentials flush the runners registered with
// the old ones first; new labels or runner resources replace the idle
// runners; new image settings rebuild the image; then it reconciles.
func (c *Charm) configChanged(ctx context.Context, ev Event) error {
	if err := c.refreshObservability(ctx, ev); err != nil {
		return err
	}
	s, err := LoadSettings(ctx, ev.Juju)
	if err != nil {
		return err
	}
	// LXD may have been missing at install time.
	if err := c.ensureLXD(ctx, ev, s.LXDSocket); err != nil {
		return err
	}
	ses, err := c.openWith(ctx, ev, s)
	if err != nil {
		return err
	}
	_, err = ses.converge(ctx, pool.ConvergeOptions{Reconcile: true})
	return err
}

// start reconciles.
func (c *Charm) start(ctx context.Context, ev Event) error {
	return c.reconcileEvent(ctx, ev)
}

// timerReconcile is the reconcile timer's event.
func (c *Charm) timerReconcile(ctx context.Context, ev Event) error {
	return c.reconcileEvent(ctx, ev)
}

func (c *Charm) reconcileEvent(ctx context.Context, ev Event) error {
	ses, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	_, err = ses.converge(ctx, pool.ConvergeOptions{Reconcile: true})
	return err
}

// upgradeCharm replaces the idle runners (so they run what the new charm
// puts in them) and reconciles; an existing image is never rebuilt.
func (c *Charm) upgradeCharm(ctx context.Context, ev Event) error {
	// The new charm may carry other alert rules or dashboards.
	if err := c.refreshObservability(ctx, ev); err != nil {
		return err
	}
	ses, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	// The watcher runs the old binary: start it anew from the new one.
	if err := ses.sched.removeWatcher(ctx, ses.pool.Settings()); err != nil {
		return err
	}
	_, err = ses.converge(ctx, pool.ConvergeOptions{Reconcile: true, FlushIdle: "charm upgraded", KeepImage: true})
	return err
}

// updateStatus re-arms the reconcile timer and the exit watcher if they
// are gone and refreshes the status.
func (c *Charm) updateStatus(ctx context.Context, ev Event) error {
	ses, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	applied, err := ses.mem.Applied(ctx)
	if err != nil {
		return err
	}
	if applied != nil {
		if err := ses.sched.rearm(ctx, ses.pool.Settings(), ses.pool.LXDSocket()); err != nil {
			return err
		}
	}
	return ses.refreshStatus(ctx)
}

// scheduledImageBuild is the image rebuild cron job's event: it fetches a
// newer runner application if there is one and rebuilds the image.
func (c *Charm) scheduledImageBuild(ctx context.Context, ev Event) error {
	ses, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	if _, err := ses.pool.EnsureRunnerBinary(ctx, true); err != nil {
		return err
	}
	if err := ses.pool.BuildImage(ctx, "scheduled rebuild"); err != nil {
		return err
	}
	return ses.refreshStatus(ctx)
}
