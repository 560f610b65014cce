package hooks

import (
	"strings"
	"time"

	"charm.example/github-runner/internal/schedule"
)

// Custom events dispatched by the machine's timer and cron entries through
// `juju-exec <unit> 'JUJU_DISPATCH_PATH=<event> ./dispatch'`.
const (
	EventReconcile  = "reconcile-runners"
	EventBuildImage = "build-runner-image"
)

// Bounds of the periodic jobs.
const (
	// reconcileJobTimeout bounds one timer run, waiting for the machine
	// lock included.
	reconcileJobTimeout = 30 * time.Minute
	// imageJobTimeout bounds one image rebuild run.
	imageJobTimeout = 90 * time.Minute
)

// jobSuffix turns a unit name into a file name part: github-runner-0.
func jobSuffix(unit string) string { return strings.ReplaceAll(unit, "/", "-") }

// TimerJob is the unit's reconcile timer: every reconcile-interval minutes,
// after a random delay of up to a quarter of it, it dispatches
// reconcile-runners. backend says what runs it.
func TimerJob(cfg Config, unit string, backend schedule.Backend) schedule.Job {
	every := cfg.ReconcileEvery()
	return schedule.Job{
		Name:        "github-runner-reconcile-" + jobSuffix(unit),
		Unit:        unit,
		Event:       EventReconcile,
		Interval:    every,
		RandomDelay: every / 4,
		Timeout:     reconcileJobTimeout,
		Backend:     backend,
		SystemdDir:  cfg.TimerDirectory,
		CronDir:     cfg.CronDirectory,
	}
}

// imageBuildJob describes the image rebuild dispatch, whose cron entry
// schedule.ScheduleRunnerImageBuild writes (four times a day); its
// CronCommand bounds a run and never lets two overlap.
func imageBuildJob(cfg Config, unit string) schedule.Job {
	return schedule.Job{
		Name:     "github-runner-image-build-" + jobSuffix(unit),
		Unit:     unit,
		Event:    EventBuildImage,
		Interval: 6 * time.Hour,
		Timeout:  imageJobTimeout,
		Backend:  schedule.Cron,
		CronDir:  cfg.CronDirectory,
	}
}

// ImageBuildCommand is the command of the cron entry that rebuilds the
// unit's runner image.
func ImageBuildCommand(cfg Config, unit string) string {
	return imageBuildJob(cfg, unit).CronCommand()
}
