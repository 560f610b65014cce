package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/http/httpproxy"

	"charm.example/github-runner/internal/juju"
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
	return Handlers{
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
		},
		Actions: map[string]Handler{
			"check-runners":     c.checkRunners,
			"reconcile-runners": c.reconcileRunners,
			"flush-runners":     c.flushRunners,
			"build-image":       c.buildImage,
			"update-runner-bin": c.updateRunnerBin,
		},
		Events: map[string]Handler{
			EventReconcile:  c.timerReconcile,
			EventBuildImage: c.scheduledImageBuild,
		},
	}
}

// Bounds of the long steps, each from its own start.
const (
	binaryTimeout    = 15 * time.Minute
	imageTimeout     = 75 * time.Minute
	flushTimeout     = 15 * time.Minute
	reconcileTimeout = 25 * time.Minute
	lookTimeout      = 3 * time.Minute
)

// session is one event's view of the unit: the valid configuration, the
// pool built from it, and what earlier hooks remembered.
type session struct {
	c    *Charm
	ev   Event
	cfg  Config
	pool *Pool
	mem  remembered
}

// open loads and checks the configuration, builds the pool and checks that
// LXD has what the configuration names. Problems come back as errors for
// the dispatcher to classify.
func (c *Charm) open(ctx context.Context, ev Event) (*session, error) {
	cfg, err := LoadConfig(ctx, ev.Juju)
	if err != nil {
		return nil, err
	}
	return c.openWith(ctx, ev, cfg)
}

// openWith is open with the configuration already loaded and valid.
func (c *Charm) openWith(ctx context.Context, ev Event, cfg Config) (*session, error) {
	pool, err := NewPool(cfg, c.poolOptions(ev, cfg))
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, lookTimeout)
	defer cancel()
	if err := pool.CheckLXD(lctx); err != nil {
		return nil, err
	}
	mem, err := loadRemembered(ctx, ev.Juju)
	if err != nil {
		return nil, err
	}
	for _, key := range mem.problems {
		ev.Log.Warn("ignoring an unreadable charm state value", "key", key)
	}
	return &session{c: c, ev: ev, cfg: cfg, pool: pool, mem: mem}, nil
}

// poolOptions are the pool's settings for this unit.
func (c *Charm) poolOptions(ev Event, cfg Config) PoolOptions {
	env := ev.Juju.Env()
	return PoolOptions{
		App:      env.AppName(),
		Unit:     env.UnitName,
		StateDir: StateDirFor(env.CharmDir),
		Proxy:    jujuProxy(env),
		// Every record costs a juju-log call: the clients' per-request
		// debug lines stay out.
		Logger: slog.New(minLevel{Handler: ev.Log.Handler(), level: slog.LevelInfo}),
	}
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

// progress says what the unit is doing: a Maintenance status, and for an
// action a line `juju run` shows.
func (s *session) progress(ctx context.Context, msg string) error {
	s.ev.Log.Info("progress", "step", msg)
	if s.ev.Kind == juju.ActionEvent {
		if err := s.ev.Juju.ActionLog(ctx, msg); err != nil {
			return err
		}
	}
	return s.ev.Juju.SetStatus(ctx, juju.Maintenance(msg))
}

// refreshStatus sets the Active status summing up the runners.
func (s *session) refreshStatus(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, lookTimeout)
	defer cancel()
	rs, err := s.pool.Runners(ctx)
	if err != nil {
		return err
	}
	return s.statusFrom(ctx, rs)
}

// statusFrom sets the Active status summing up rs.
func (s *session) statusFrom(ctx context.Context, rs []runners.RunnerInfo) error {
	return s.ev.Juju.SetStatus(ctx, juju.Active(Summary(s.cfg.VirtualMachines, rs)))
}

// install sets the machine up: LXD (installed with snap if there is none),
// then, when the configuration is valid, the runner application, the
// runner image and the periodic jobs. The runners start with the start hook.
func (c *Charm) install(ctx context.Context, ev Event) error {
	if err := ev.Juju.SetStatus(ctx, juju.Maintenance("installing: looking for LXD")); err != nil {
		return err
	}
	cfg, cerr := LoadConfig(ctx, ev.Juju)
	socketCfg := cfg
	if hasProblem(cerr, "lxd-socket") {
		socketCfg.LXDSocket = ""
	}
	lerr := c.ensureLXD(ctx, ev, socketCfg)
	switch {
	case lerr != nil && Classify(lerr).Kind == Retry:
		return lerr
	case cerr != nil:
		// The options come first: a fresh unit is blocked on path and
		// token whatever else is missing.
		return cerr
	case lerr != nil:
		return lerr
	}
	s, err := c.openWith(ctx, ev, cfg)
	if err != nil {
		return err
	}
	_, err = s.converge(ctx, convergeOptions{})
	return err
}

// configChanged re-reads everything (the hook carries no diff) and brings
// the unit to it: new GitHub credentials flush the runners registered with
// the old ones first; new labels or runner resources replace the idle
// runners; new image settings rebuild the image; then it reconciles.
func (c *Charm) configChanged(ctx context.Context, ev Event) error {
	cfg, err := LoadConfig(ctx, ev.Juju)
	if err != nil {
		return err
	}
	// LXD may have been missing at install time.
	if err := c.ensureLXD(ctx, ev, cfg); err != nil {
		return err
	}
	s, err := c.openWith(ctx, ev, cfg)
	if err != nil {
		return err
	}
	_, err = s.converge(ctx, convergeOptions{reconcile: true})
	return err
}

// start reconciles.
func (c *Charm) start(ctx context.Context, ev Event) error {
	s, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	_, err = s.converge(ctx, convergeOptions{reconcile: true})
	return err
}

// upgradeCharm replaces the idle runners (so they run what the new charm
// puts in them) and reconciles; an existing image is never rebuilt.
func (c *Charm) upgradeCharm(ctx context.Context, ev Event) error {
	s, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	// The watcher runs the old binary: start it anew from the new one.
	if err := c.removeWatcher(ctx, ev, s.cfg); err != nil {
		return err
	}
	_, err = s.converge(ctx, convergeOptions{reconcile: true, flushIdle: "charm upgraded", keepImage: true})
	return err
}

// updateStatus re-arms the reconcile timer if it is gone and refreshes the
// status.
func (c *Charm) updateStatus(ctx context.Context, ev Event) error {
	s, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	if s.mem.applied != nil {
		job := TimerJob(s.cfg, s.ev.Juju.Env().UnitName, c.deps.TimerBackend)
		if !job.Installed(ctx) {
			if _, err := job.Install(ctx); err != nil {
				return fmt.Errorf("cannot re-arm the reconcile timer: %w", err)
			}
			ev.Log.Warn("the reconcile timer was missing; re-armed it", "job", job.Name)
		}
		if s.cfg.ReconcileOnExit {
			d := WatcherDaemon(ev.Juju.Env(), s.pool.LXD.Socket(), c.deps.TimerBackend, s.cfg.TimerDirectory)
			if !d.Running(ctx) {
				if err := s.ensureWatcher(ctx); err != nil {
					return err
				}
				ev.Log.Warn("the runner exit watcher was not running; started it", "daemon", d.Name)
			}
		}
	}
	return s.refreshStatus(ctx)
}

// timerReconcile is the reconcile timer's event.
func (c *Charm) timerReconcile(ctx context.Context, ev Event) error {
	s, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	_, err = s.converge(ctx, convergeOptions{reconcile: true})
	return err
}

// scheduledImageBuild is the image rebuild cron job's event: it fetches a
// newer runner application if there is one and rebuilds the image.
func (c *Charm) scheduledImageBuild(ctx context.Context, ev Event) error {
	s, err := c.open(ctx, ev)
	if err != nil {
		return err
	}
	if _, err := s.ensureBinary(ctx, true); err != nil {
		return err
	}
	if err := s.build(ctx, "scheduled rebuild"); err != nil {
		return err
	}
	return s.refreshStatus(ctx)
}

// hasProblem says whether err is a *ConfigError naming option.
func hasProblem(err error, option string) bool {
	var cerr *ConfigError
	if !errors.As(err, &cerr) {
		return false
	}
	for _, o := range cerr.Options() {
		if o == option {
			return true
		}
	}
	return false
}
