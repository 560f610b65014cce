package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/metrics"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// serve starts a Server for dir on 127.0.0.1 and returns its URL.
func serve(t *testing.T, dir string) string {
	t.Helper()
	srv, err := metrics.NewServer(metrics.ServerOptions{Dir: dir})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return "http://" + ln.Addr().String() + metrics.MetricsPath
}

// scrape fetches and parses the metrics at url.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err, string(body))
	return families
}

// value is the value of the series of family name with exactly labels.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := families[name]
	require.True(t, ok, "no family %s", name)
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		if fmt.Sprint(got) != fmt.Sprint(labels) && !(len(got) == 0 && len(labels) == 0) {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		}
		t.Fatalf("%s is a %s", name, f.GetType())
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func histogram(t *testing.T, families map[string]*dto.MetricFamily, name string) *dto.Histogram {
	t.Helper()
	f, ok := families[name]
	require.True(t, ok, "no family %s", name)
	require.Equal(t, dto.MetricType_HISTOGRAM, f.GetType())
	require.Len(t, f.Metric, 1)
	return f.Metric[0].GetHistogram()
}

func newRecorder(t *testing.T, dir string, now time.Time) *metrics.Recorder {
	t.Helper()
	r, err := metrics.NewRecorder(metrics.RecorderOptions{Dir: dir, Now: func() time.Time { return now }})
	require.NoError(t, err)
	return r
}

func TestHooksRecordAndTheServerExposes(t *testing.T) {
	dir := t.TempDir()
	url := serve(t, dir)
	now := time.Unix(1_800_000_000, 0)

	// Before anything is recorded: counters at 0 for the known label
	// values, empty histograms, no gauges.
	fam := scrape(t, url)
	require.Equal(t, 0.0, value(t, fam, metrics.CreationFailures, map[string]string{"cause": "lxd"}))
	require.Equal(t, 0.0, value(t, fam, metrics.Removals, map[string]string{"kind": "finished"}))
	require.Equal(t, 0.0, value(t, fam, metrics.Creations, nil))
	require.Equal(t, uint64(0), histogram(t, fam, metrics.ReconcileDuration).GetSampleCount())
	require.NotContains(t, fam, metrics.Runners)

	// One hook process: a reconcile that created two runners, one of which failed.
	hook := newRecorder(t, dir, now)
	hook.CreationStarted()
	hook.CreationStarted()
	hook.CreationOnline(42 * time.Second)
	hook.CreationFailed(metrics.CauseLXD)
	hook.RunnerRemoved(metrics.RemovalFinished)
	hook.RunnerRemoved(metrics.RemovalDead)
	hook.JobFinished(8*time.Second, 95*time.Second)
	hook.GitHubRequest("POST /orgs/{org}/actions/runners/generate-jitconfig", 201)
	hook.GitHubRequest("GET /orgs/{org}/actions/runners", 200)
	hook.GitHubRequest("GET /orgs/{org}/actions/runners", 200)
	hook.GitHubRequest("GET /orgs/{org}/actions/runners", 0)
	hook.RateLimit(4321, 5000, now.Add(20*time.Minute))
	hook.ImageBuilt(3*time.Minute, nil, now.Add(-time.Hour))
	hook.SetPool(metrics.Pool{
		Runners:           map[metrics.RunnerState]int{metrics.RunnerIdle: 2, metrics.RunnerBusy: 1},
		Wanted:            3,
		RunnerVersion:     "2.321.0",
		ReconcileInterval: 5 * time.Minute, ImageRebuildInterval: 6 * time.Hour,
	})
	hook.ReconcileDone(1500*time.Millisecond, nil)
	require.NoError(t, hook.Flush(testContext(t)))

	// A second process (the exit watcher) and a failed reconcile later.
	later := now.Add(5 * time.Minute)
	watcher := newRecorder(t, dir, later)
	watcher.RunnerRemoved(metrics.RemovalFinished)
	watcher.CreationStarted()
	watcher.CreationOnline(12 * time.Second)
	watcher.ReconcileDone(700*time.Second, errors.New("lxd is down"))
	watcher.SetPool(metrics.Pool{Runners: map[metrics.RunnerState]int{metrics.RunnerStarting: 1, metrics.RunnerIdle: 1, metrics.RunnerBusy: 1}, Wanted: 3})
	require.NoError(t, watcher.Flush(testContext(t)))

	fam = scrape(t, url)
	require.Equal(t, 3.0, value(t, fam, metrics.Creations, nil))
	require.Equal(t, 1.0, value(t, fam, metrics.CreationFailures, map[string]string{"cause": "lxd"}))
	require.Equal(t, 0.0, value(t, fam, metrics.CreationFailures, map[string]string{"cause": "github"}))
	require.Equal(t, 2.0, value(t, fam, metrics.Removals, map[string]string{"kind": "finished"}))
	require.Equal(t, 1.0, value(t, fam, metrics.Removals, map[string]string{"kind": "dead"}))
	require.Equal(t, 2.0, value(t, fam, metrics.GitHubRequests, map[string]string{"endpoint": "GET /orgs/{org}/actions/runners", "status": "200"}))
	require.Equal(t, 1.0, value(t, fam, metrics.GitHubRequests, map[string]string{"endpoint": "GET /orgs/{org}/actions/runners", "status": "error"}))
	require.Equal(t, 4321.0, value(t, fam, metrics.RateLimitRemaining, nil))
	require.Equal(t, 5000.0, value(t, fam, metrics.RateLimitQuota, nil))
	require.Equal(t, float64(now.Add(20*time.Minute).Unix()), value(t, fam, metrics.RateLimitReset, nil))
	require.Equal(t, 1.0, value(t, fam, metrics.Reconciles, map[string]string{"outcome": "success"}))
	require.Equal(t, 1.0, value(t, fam, metrics.Reconciles, map[string]string{"outcome": "error"}))
	require.Equal(t, float64(now.Unix()), value(t, fam, metrics.ReconcileLastSuccess, nil), "a failed reconcile leaves the last success")
	require.Equal(t, 300.0, value(t, fam, metrics.ReconcileInterval, nil))
	require.Equal(t, 21600.0, value(t, fam, metrics.ImageRebuildInterval, nil))
	require.Equal(t, float64(now.Add(-time.Hour).Unix()), value(t, fam, metrics.ImageBuildTimestamp, nil))
	require.Equal(t, 1.0, value(t, fam, metrics.ImageBuilds, map[string]string{"outcome": "success"}))
	require.Equal(t, 1.0, value(t, fam, metrics.RunnerApplicationInfo, map[string]string{"version": "2.321.0"}), "kept from the earlier snapshot")
	require.Equal(t, float64(later.Unix()), value(t, fam, metrics.StateUpdated, nil))
	for state, want := range map[string]float64{"starting": 1, "idle": 1, "busy": 1, "dead": 0} {
		require.Equal(t, want, value(t, fam, metrics.Runners, map[string]string{"state": state}), state)
	}
	require.Equal(t, 3.0, value(t, fam, metrics.RunnersWanted, nil))

	rec := histogram(t, fam, metrics.ReconcileDuration)
	require.Equal(t, uint64(2), rec.GetSampleCount())
	require.InDelta(t, 701.5, rec.GetSampleSum(), 1e-9)
	for _, b := range rec.Bucket {
		want := uint64(0)
		switch {
		case b.GetUpperBound() >= 1.5 && b.GetUpperBound() < 700:
			want = 1
		case b.GetUpperBound() >= 700:
			want = 2
		}
		require.Equal(t, want, b.GetCumulativeCount(), "le=%v", b.GetUpperBound())
	}
	create := histogram(t, fam, metrics.CreationDuration)
	require.Equal(t, uint64(2), create.GetSampleCount())
	require.InDelta(t, 54, create.GetSampleSum(), 1e-9)
	require.Equal(t, uint64(1), histogram(t, fam, metrics.JobQueueDuration).GetSampleCount())
	require.InDelta(t, 95, histogram(t, fam, metrics.JobDuration).GetSampleSum(), 1e-9)
	require.InDelta(t, 180, histogram(t, fam, metrics.ImageBuildDuration).GetSampleSum(), 1e-9)
}

func TestStateFileIsPrivateAndBounded(t *testing.T) {
	dir := t.TempDir()
	r := newRecorder(t, dir, time.Unix(1_800_000_000, 0))
	for i := range 3 * metrics.MaxSeries {
		r.GitHubRequest(fmt.Sprintf("GET /repos/{owner}/{repo}/thing-%d", i), 200)
	}
	require.NoError(t, r.Flush(testContext(t)))
	r.GitHubRequest("GET /one/more", 404)
	require.NoError(t, r.Flush(testContext(t)))

	info, err := os.Stat(filepath.Join(dir, metrics.StateFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	st, err := metrics.ReadState(dir)
	require.NoError(t, err)
	series := st.Counters[metrics.GitHubRequests]
	require.Len(t, series, metrics.MaxSeries+1, "MaxSeries kept, the rest under other")
	var total float64
	for _, v := range series {
		total += v
	}
	require.Equal(t, float64(3*metrics.MaxSeries+1), total, "nothing lost")

	fam := scrape(t, serve(t, dir))
	require.Equal(t, float64(2*metrics.MaxSeries+1), value(t, fam, metrics.GitHubRequests, map[string]string{"endpoint": "other", "status": "other"}))
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	const writers, each = 6, 20
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := metrics.NewRecorder(metrics.RecorderOptions{Dir: dir})
			if err != nil {
				t.Error(err)
				return
			}
			for range each {
				r.RunnerRemoved(metrics.RemovalExcess)
				if err := r.Flush(testContext(t)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st, err := metrics.ReadState(dir)
	require.NoError(t, err)
	require.Equal(t, float64(writers*each), st.Counters[metrics.Removals]["excess"])
}

func TestFlushKeepsRecordsItCouldNotWrite(t *testing.T) {
	dir := t.TempDir()
	r := newRecorder(t, dir, time.Unix(1_800_000_000, 0))
	held, err := os.OpenFile(filepath.Join(dir, metrics.LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	defer held.Close()
	require.NoError(t, lockFile(held))

	r.CreationFailed(metrics.CauseTimeout)
	short, cancel := context.WithTimeout(testContext(t), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, r.Flush(short), context.DeadlineExceeded)

	require.NoError(t, unlockFile(held))
	r.CreationFailed(metrics.CauseTimeout)
	require.NoError(t, r.Flush(testContext(t)))
	st, err := metrics.ReadState(dir)
	require.NoError(t, err)
	require.Equal(t, 2.0, st.Counters[metrics.CreationFailures]["timeout"])
}

func TestBadStateAnswers500AndIsRewritten(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, metrics.StateFile), []byte("{not json"), 0o600))
	url := serve(t, dir)
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)

	r := newRecorder(t, dir, time.Unix(1_800_000_000, 0))
	r.CreationStarted()
	require.NoError(t, r.Flush(testContext(t)))
	require.Equal(t, 1.0, value(t, scrape(t, url), metrics.Creations, nil))
}

func TestOptionsAreChecked(t *testing.T) {
	_, err := metrics.NewRecorder(metrics.RecorderOptions{Dir: "relative"})
	require.ErrorContains(t, err, "not an absolute path")
	_, err = metrics.NewServer(metrics.ServerOptions{})
	require.ErrorContains(t, err, "not an absolute path")
}
