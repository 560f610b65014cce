package schedule

import (
	"context"
	"hash/fnv"
	"path/filepath"
	"strings"
	"time"
)

// ImageBuildInterval is how often the runner image is rebuilt: four times a
// day.
const ImageBuildInterval = 6 * time.Hour

// ImageBuildCronPath is the path, in cronDir, of the cron file that rebuilds
// the runner image of the unit whose runner names start with runnerPrefix.
func ImageBuildCronPath(cronDir, runnerPrefix string) string {
	return filepath.Join(cronDir, imageBuildFile(runnerPrefix))
}

// imageBuildFile is a name cron accepts (letters, digits, - and _ only).
func imageBuildFile(runnerPrefix string) string {
	return "github-runner-image-" + strings.TrimSuffix(runnerPrefix, "-")
}

// imageBuild makes job the runner image rebuild of the unit whose runner
// names start with runnerPrefix: a cron job every ImageBuildInterval, at a
// minute and hour derived from job.Unit, in the file ImageBuildCronPath
// names.
func imageBuild(job Job, runnerPrefix string) Job {
	job.Backend = Cron
	job.Interval = ImageBuildInterval
	job.RandomDelay = 0
	job.phase = spread(job.Unit, ImageBuildInterval)
	job.file = imageBuildFile(runnerPrefix)
	return job
}

// spread is a phase within interval, in whole minutes, derived from key:
// keys spread out over the interval, and one key always gets the same.
func spread(key string, interval time.Duration) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(key))
	mins := uint32(interval / time.Minute)
	if mins == 0 {
		return 0
	}
	return time.Duration(h.Sum32()%mins) * time.Minute
}

// ScheduleRunnerImageBuild installs job as the rebuild of the runner image
// of the unit whose runner names start with runnerPrefix: a cron entry that
// dispatches job.Event four times a day, at a minute and hour derived from
// job.Unit so that units spread out while a rewrite keeps the same times.
// The job's Name names its lock and its Timeout bounds a run; its Backend,
// Interval and RandomDelay are set here. It returns the cron file's path.
func ScheduleRunnerImageBuild(ctx context.Context, job Job, runnerPrefix string) (string, error) {
	job = imageBuild(job, runnerPrefix)
	if _, err := job.Install(ctx); err != nil {
		return "", err
	}
	return job.Paths()[0], nil
}

// UnscheduleRunnerImageBuild removes the image rebuild cron file of the unit
// whose runner names start with runnerPrefix from cronDir. It needs nothing
// else (no LXD), so that a teardown works when LXD is gone. A missing file,
// or no cron folder, is fine.
func UnscheduleRunnerImageBuild(ctx context.Context, cronDir, runnerPrefix string) error {
	if cronDir == "" {
		return nil
	}
	return imageBuild(Job{CronDir: cronDir}, runnerPrefix).Remove(ctx)
}
