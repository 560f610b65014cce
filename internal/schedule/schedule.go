// Package schedule writes every cron and systemd file of the charm's: the
// timer that dispatches a reconcile every few minutes through juju-exec, the
// cron job that rebuilds the runner image, and the long-running daemons.
//
// On a machine that systemd runs (the usual Juju machine), the reconcile
// timer is a systemd timer and service pair: systemd never starts a service
// that is still running, so runs cannot overlap, RandomizedDelaySec spreads
// units, and TimeoutStartSec bounds a run. Where systemd is not PID 1 (many
// containers), the same job is a cron entry whose command adds the random
// delay (`sleep`), the bound (`timeout`) and the no-overlap rule (`flock -n`)
// itself. Either way the job runs
// `juju-exec <unit> 'JUJU_DISPATCH_PATH=<event> ./dispatch'`.
package schedule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"charm.example/github-runner/internal/atomicfile"
)

// The charm's custom events its periodic jobs dispatch.
const (
	// EventReconcile reconciles the runners (the timer and the exit
	// watcher).
	EventReconcile = "reconcile-runners"
	// EventBuildImage rebuilds the runner image (a cron entry).
	EventBuildImage = "build-runner-image"
)

// Backend says what runs a Job.
type Backend string

// Backends.
const (
	Systemd Backend = "systemd"
	Cron    Backend = "cron"
)

// SystemdBooted reports whether systemd runs this machine (sd_booted(3)).
func SystemdBooted() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// Job is one periodic dispatch of a charm event.
type Job struct {
	// Name is the job's file and unit base name, e.g.
	// github-runner-reconcile-github-runner-0 (letters, digits, - and _).
	Name string
	// Unit is the Juju unit juju-exec runs in (github-runner/0).
	Unit string
	// Event is the custom event dispatched (reconcile-runners).
	Event string
	// Interval between runs; RandomDelay at most before each; Timeout
	// bounds a run.
	Interval, RandomDelay, Timeout time.Duration
	// Backend picks systemd or cron.
	Backend Backend
	// SystemdDir and CronDir are where the files go.
	SystemdDir, CronDir string
	// LockDir holds the cron job's flock file (default /run/lock).
	LockDir string
	// Systemctl runs systemctl (nil: the systemctl on PATH).
	Systemctl func(ctx context.Context, args ...string) error

	// phase shifts a cron job's runs within its interval (zero: at its
	// start); file names its cron file (empty: Name). Only the image
	// rebuild sets them.
	phase time.Duration
	file  string
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (j Job) validate() error {
	switch {
	case !nameRe.MatchString(j.Name):
		return fmt.Errorf("invalid job name %q", j.Name)
	case j.file != "" && !nameRe.MatchString(j.file):
		return fmt.Errorf("invalid cron file name %q", j.file)
	case !strings.Contains(j.Unit, "/") || strings.ContainsAny(j.Unit, " '\"\\$`"):
		return fmt.Errorf("invalid unit name %q", j.Unit)
	case !nameRe.MatchString(j.Event):
		return fmt.Errorf("invalid event name %q", j.Event)
	case j.Interval < time.Minute:
		return fmt.Errorf("interval %s: at least a minute", j.Interval)
	case j.Timeout <= 0:
		return fmt.Errorf("timeout %s: must be positive", j.Timeout)
	case j.Backend == Systemd && !filepath.IsAbs(j.SystemdDir):
		return fmt.Errorf("systemd folder %q is not absolute", j.SystemdDir)
	case j.Backend == Cron && !filepath.IsAbs(j.CronDir):
		return fmt.Errorf("cron folder %q is not absolute", j.CronDir)
	case j.Backend != Systemd && j.Backend != Cron:
		return fmt.Errorf("unknown backend %q", j.Backend)
	}
	return nil
}

// DispatchCommand is the command a run executes, for sh.
func (j Job) DispatchCommand() string {
	return fmt.Sprintf("juju-exec %s 'JUJU_DISPATCH_PATH=%s ./dispatch'", j.Unit, j.Event)
}

// Paths are the files the job consists of.
func (j Job) Paths() []string {
	if j.Backend == Systemd {
		return []string{filepath.Join(j.SystemdDir, j.Name+".service"), filepath.Join(j.SystemdDir, j.Name+".timer")}
	}
	return []string{filepath.Join(j.CronDir, j.cronName())}
}

// cronName is the cron file's name.
func (j Job) cronName() string {
	if j.file != "" {
		return j.file
	}
	return j.Name
}

// Files renders the job's files, path to content.
func (j Job) Files() (map[string]string, error) {
	if err := j.validate(); err != nil {
		return nil, err
	}
	paths := j.Paths()
	if j.Backend == Systemd {
		return map[string]string{paths[0]: j.serviceUnit(), paths[1]: j.timerUnit()}, nil
	}
	return map[string]string{paths[0]: j.cronFile()}, nil
}

func seconds(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }

func (j Job) serviceUnit() string {
	return fmt.Sprintf(`# Written by the github-runner charm; rewritten on config changes.
[Unit]
Description=Dispatch %[1]s on %[2]s

[Service]
Type=oneshot
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=/bin/sh -c %[3]q
TimeoutStartSec=%[4]d
`, j.Event, j.Unit, j.DispatchCommand(), seconds(j.Timeout))
}

func (j Job) timerUnit() string {
	return fmt.Sprintf(`# Written by the github-runner charm; rewritten on config changes.
[Unit]
Description=Dispatch %[1]s on %[2]s every %[3]s

[Timer]
OnActiveSec=%[4]d
OnUnitInactiveSec=%[4]d
RandomizedDelaySec=%[5]d
AccuracySec=1s
Unit=%[6]s.service

[Install]
WantedBy=timers.target
`, j.Event, j.Unit, j.Interval, seconds(j.Interval), seconds(j.RandomDelay), j.Name)
}

// cronSchedule turns the interval into cron's fields: every N minutes below
// an hour (cron restarts the count each hour, so the last gap of an hour may
// be shorter when N does not divide 60), every N hours above. A phase lists
// the shifted minutes (or hours, at its minute) instead.
func (j Job) cronSchedule() string {
	mins := int(j.Interval / time.Minute)
	phase := 0
	if mins > 0 {
		phase = int(j.phase/time.Minute) % mins
	}
	if mins < 60 {
		if phase == 0 {
			return fmt.Sprintf("*/%d * * * *", mins)
		}
		return cronList(phase, mins, 60) + " * * * *"
	}
	hours := max(1, mins/60)
	if phase == 0 {
		return fmt.Sprintf("0 */%d * * *", hours)
	}
	return fmt.Sprintf("%d %s * * *", phase%60, cronList(phase/60, hours, 24))
}

// cronList is from, from+step, ... below limit, as a cron field.
func cronList(from, step, limit int) string {
	var items []string
	for v := from; v < limit; v += step {
		items = append(items, strconv.Itoa(v))
	}
	return strings.Join(items, ",")
}

func (j Job) lockPath() string {
	dir := j.LockDir
	if dir == "" {
		dir = "/run/lock"
	}
	return filepath.Join(dir, j.Name+".lock")
}

// CronCommand is the command of the cron entry.
func (j Job) CronCommand() string {
	delay := seconds(j.RandomDelay)
	sleep := ""
	if delay > 0 {
		sleep = fmt.Sprintf("sleep $(shuf -i 0-%d -n 1); ", delay)
	}
	// The lock folder is made first: /run/lock is a tmpfs some machines
	// lack, or empty after a boot.
	return fmt.Sprintf("mkdir -p %s && flock -n %s sh -c \"%stimeout %d %s\"",
		filepath.Dir(j.lockPath()), j.lockPath(), sleep, seconds(j.Timeout), j.DispatchCommand())
}

func (j Job) cronFile() string {
	return fmt.Sprintf(`# Dispatches %s on %s every %s. Written by the github-runner charm; do not edit.
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
%s root %s
`, j.Event, j.Unit, j.Interval, j.cronSchedule(), j.CronCommand())
}

// Install writes the job's files (only those that changed) and, for
// systemd, reloads and enables the timer. It says whether anything changed.
func (j Job) Install(ctx context.Context) (bool, error) {
	files, err := j.Files()
	if err != nil {
		return false, err
	}
	changed := false
	for path, content := range files {
		old, err := os.ReadFile(path)
		if err == nil && bytes.Equal(old, []byte(content)) {
			continue
		}
		if err := atomicfile.Write(path, []byte(content), 0o644); err != nil {
			return false, fmt.Errorf("cannot write %s: %w", path, err)
		}
		changed = true
	}
	if j.Backend == Systemd {
		if changed {
			if err := j.systemctl(ctx, "daemon-reload"); err != nil {
				return changed, err
			}
		}
		if changed || !j.Active(ctx) {
			if err := j.systemctl(ctx, "enable", "--now", j.Name+".timer"); err != nil {
				return changed, err
			}
			if !changed {
				changed = true
			}
		}
	}
	return changed, nil
}

// Installed says whether the job's files are in place as Install writes
// them and, for systemd, whether the timer is active: what update-status
// checks before re-arming.
func (j Job) Installed(ctx context.Context) bool {
	files, err := j.Files()
	if err != nil {
		return false
	}
	for path, content := range files {
		old, err := os.ReadFile(path)
		if err != nil || string(old) != content {
			return false
		}
	}
	return j.Backend != Systemd || j.Active(ctx)
}

// Active says whether systemd has the timer active.
func (j Job) Active(ctx context.Context) bool {
	return j.systemctl(ctx, "is-active", "--quiet", j.Name+".timer") == nil
}

// Remove stops and removes the job. Missing files are fine.
func (j Job) Remove(ctx context.Context) error {
	var errs []error
	if j.Backend == Systemd {
		if err := j.systemctl(ctx, "disable", "--now", j.Name+".timer"); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range j.Paths() {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if j.Backend == Systemd {
		if err := j.systemctl(ctx, "daemon-reload"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (j Job) systemctl(ctx context.Context, args ...string) error {
	if j.Systemctl != nil {
		return j.Systemctl(ctx, args...)
	}
	out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
