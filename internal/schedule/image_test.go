package schedule

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func imageJob(t *testing.T) Job {
	dir := t.TempDir()
	return Job{
		Name:    "github-runner-image-build-github-runner-3",
		Unit:    "github-runner/3",
		Event:   "build-runner-image",
		Timeout: 90 * time.Minute,
		CronDir: filepath.Join(dir, "cron.d"),
		LockDir: filepath.Join(dir, "lock"),
	}
}

func TestImageBuildCronFile(t *testing.T) {
	ctx := context.Background()
	j := imageJob(t)
	path, err := ScheduleRunnerImageBuild(ctx, j, "github-runner-3-")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(j.CronDir, "github-runner-image-github-runner-3"), path)
	require.Equal(t, path, ImageBuildCronPath(j.CronDir, "github-runner-3-"))

	// Four times a day at a minute and hour of the unit's own, the same
	// on every rewrite: the first run within the first six hours.
	h := fnv.New32a()
	h.Write([]byte(j.Unit))
	sum := h.Sum32()
	minute, hour := sum%60, (sum/60)%6
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	line := fmt.Sprintf("%d %d,%d,%d,%d * * * root %s\n", minute, hour, hour+6, hour+12, hour+18, j.CronCommand())
	require.Contains(t, string(b), line)
	require.Contains(t, j.CronCommand(), "flock -n "+filepath.Join(j.LockDir, j.Name+".lock"))
	require.Contains(t, j.CronCommand(), "timeout 5400 juju-exec github-runner/3 'JUJU_DISPATCH_PATH=build-runner-image ./dispatch'")
	require.NotContains(t, j.CronCommand(), "sleep", "no random delay: the times are spread already")

	again, err := ScheduleRunnerImageBuild(ctx, j, "github-runner-3-")
	require.NoError(t, err)
	require.Equal(t, path, again)
	b2, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(b), string(b2))

	// Another unit gets other times (these two do).
	other := j
	other.Unit = "github-runner/4"
	otherPath, err := ScheduleRunnerImageBuild(ctx, other, "github-runner-4-")
	require.NoError(t, err)
	ob, err := os.ReadFile(otherPath)
	require.NoError(t, err)
	require.NotEqual(t, cronLine(string(b)), cronLine(string(ob)))

	require.NoError(t, UnscheduleRunnerImageBuild(ctx, j.CronDir, "github-runner-3-"))
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, UnscheduleRunnerImageBuild(ctx, j.CronDir, "github-runner-3-"), "a missing file is fine")
	require.NoError(t, UnscheduleRunnerImageBuild(ctx, "", "github-runner-3-"), "no cron folder is fine")
	_, err = os.Stat(otherPath)
	require.NoError(t, err, "another unit's file stays")

	_, err = ScheduleRunnerImageBuild(ctx, Job{Name: j.Name, Unit: j.Unit, Event: j.Event, Timeout: j.Timeout}, "github-runner-3-")
	require.ErrorContains(t, err, "cron folder")
}

// cronLine is the schedule and command line of a cron file.
func cronLine(content string) string {
	lines := strings.Split(strings.TrimSpace(content), "\n")
	return lines[len(lines)-1]
}

func TestCronScheduleWithPhase(t *testing.T) {
	for _, c := range []struct {
		interval, phase time.Duration
		want            string
	}{
		{6 * time.Hour, 0, "0 */6 * * *"},
		{6 * time.Hour, 2*time.Hour + 5*time.Minute, "5 2,8,14,20 * * *"},
		{6 * time.Hour, 59 * time.Minute, "59 0,6,12,18 * * *"},
		{6 * time.Hour, 5*time.Hour + 59*time.Minute, "59 5,11,17,23 * * *"},
		{8 * time.Hour, 9 * time.Hour, "0 1,9,17 * * *"},
		{15 * time.Minute, 7 * time.Minute, "7,22,37,52 * * * *"},
	} {
		require.Equal(t, c.want, Job{Interval: c.interval, phase: c.phase}.cronSchedule(), "%s phase %s", c.interval, c.phase)
	}
	for _, unit := range []string{"a/0", "github-runner/0", "x/12345"} {
		p := spread(unit, ImageBuildInterval)
		require.GreaterOrEqual(t, p, time.Duration(0))
		require.Less(t, p, ImageBuildInterval)
		require.Zero(t, p%time.Minute)
	}
}
