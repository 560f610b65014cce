package rig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"charm.example/github-runner/internal/juju/jujutest"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/schedule"
)

// CharmBuild is the packed charm and the Juju simulator's hook tools, built
// once and shared by every CharmUnit.
type CharmBuild struct {
	Charm, Tools string
}

// BuildCharm builds the charm as `make charm` does and the hook tools into
// dir. Like Build, it runs the go command inside this module.
func BuildCharm(ctx context.Context, dir string) (CharmBuild, error) {
	tools, err := jujutest.BuildTools(ctx, dir)
	if err != nil {
		return CharmBuild{}, err
	}
	charm, err := jujutest.BuildCharm(ctx, dir)
	if err != nil {
		return CharmBuild{}, err
	}
	return CharmBuild{Charm: charm, Tools: tools}, nil
}

// CharmUnit is the real charm binary deployed as one unit in the Juju
// simulator, configured to run its runners on the rig.
type CharmUnit struct {
	Sim  *jujutest.Sim
	Unit Unit
	// TimerDir and CronDir are where the charm writes its periodic jobs.
	TimerDir, CronDir string
	r                 *Rig
}

// CharmConfig is the charm configuration that points a unit at the rig:
// its LXD socket, profile and base image, the simulator's URL and token,
// containers of the rig's size, and want runners labelled labels.
func (r *Rig) CharmConfig(want int, labels, timerDir, cronDir string) map[string]any {
	return map[string]any{
		"path":              r.Org,
		"token":             r.token,
		"github-api-url":    r.Sim.URL(),
		"lxd-socket":        r.socket,
		"lxd-profiles":      r.Profile,
		"base-image":        lxdtest.Image(),
		"image-packages":    "",
		"instance-type":     "container",
		"virtual-machines":  want,
		"vm-cpu":            Resources.CPU,
		"vm-memory":         "256MiB",
		"vm-disk":           "1GiB",
		"labels":            labels,
		"bootstrap-timeout": 1,
		"timer-directory":   timerDir,
		"cron-directory":    cronDir,
	}
}

// StartCharm lays out a unit of the packed charm in the Juju simulator,
// configured with CharmConfig(want, labels) and then extra; it is not yet
// deployed (see jujutest.Sim.Deploy).
func (r *Rig) StartCharm(build CharmBuild, prefix string, want int, labels string, extra map[string]any) (*CharmUnit, error) {
	u, err := r.NewUnit(prefix)
	if err != nil {
		return nil, err
	}
	timerDir, err := os.MkdirTemp(r.dir, "timer-")
	if err != nil {
		return nil, err
	}
	cronDir, err := os.MkdirTemp(r.dir, "cron-")
	if err != nil {
		return nil, err
	}
	cfg := r.CharmConfig(want, labels, timerDir, cronDir)
	for k, v := range extra {
		cfg[k] = v
	}
	sim, err := jujutest.New(jujutest.Options{Charm: build.Charm, Tools: build.Tools, Unit: u.Name, ModelUUID: u.Model, Leader: true, Config: cfg})
	if err != nil {
		return nil, err
	}
	// The charm keeps its runner manager's state beside its charm folder.
	os.RemoveAll(u.StateDir)
	u.StateDir = filepath.Join(filepath.Dir(sim.CharmDir()), pool.StateDirName)
	return &CharmUnit{Sim: sim, Unit: u, TimerDir: timerDir, CronDir: cronDir, r: r}, nil
}

// HasOption says whether the charm has a configuration option.
func (c *CharmUnit) HasOption(name string) bool {
	_, ok := c.Sim.Config()[name]
	return ok
}

// TimerCommand is the command the unit's reconcile timer runs (without the
// timer's random delay, its timeout and its lock): juju-exec dispatching
// the reconcile event.
func (c *CharmUnit) TimerCommand() string {
	return schedule.Job{Unit: c.Unit.Name, Event: schedule.EventReconcile}.DispatchCommand()
}

// FireTimer runs the timer's command as cron would, and fails if it
// failed.
func (c *CharmUnit) FireTimer(ctx context.Context) error {
	res, err := c.Sim.Shell(ctx, c.TimerCommand())
	if err != nil {
		return err
	}
	if res.Code != 0 {
		var tail []string
		logs := c.Sim.Logs()
		for _, l := range logs[max(0, len(logs)-10):] {
			tail = append(tail, l.Level+" "+l.Message)
		}
		return fmt.Errorf("timer run exited %d: %s\nlast log lines:\n%s", res.Code, strings.TrimSpace(res.Stderr), strings.Join(tail, "\n"))
	}
	return nil
}

// Close removes the unit as Juju would (stop, remove), then whatever it
// left in LXD and on GitHub, its runner image included, and the
// simulator's folder.
func (c *CharmUnit) Close(ctx context.Context) error {
	var errs []error
	if err := c.Sim.Remove(ctx); err != nil {
		errs = append(errs, fmt.Errorf("removing the unit: %w", err))
	}
	if err := c.r.Clean(ctx, c.Unit); err != nil {
		errs = append(errs, err)
	}
	alias := c.Unit.Owner.ImageAlias()
	if a, err := c.r.LXD.GetImageAlias(ctx, alias); err == nil {
		op, err := c.r.LXD.DeleteImage(ctx, a.Target)
		if err == nil {
			err = op.Wait(ctx)
		}
		if err != nil && !errors.Is(err, lxd.ErrNotFound) {
			errs = append(errs, fmt.Errorf("cannot delete the unit's runner image: %w", err))
		}
	}
	if err := c.Sim.Close(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, os.RemoveAll(c.TimerDir), os.RemoveAll(c.CronDir))
	return errors.Join(errs...)
}
