package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

// A real Prometheus (Debian's package) scrapes the unit's /metrics, served
// by the charm's watcher process: PromQL over the scraped series gives the
// runner counts the GitHub simulator shows while runners start, take jobs
// and are replaced.
func TestPrometheusSeesTheRunners(t *testing.T) {
	t.Parallel()
	promBin := lookPrometheus(t)
	port := freePort(t)
	e := newEnv(t, "e2e-metrics", map[string]any{
		"reconcile-on-exit": true,
		"metrics-port":      port,
		"virtual-machines":  2,
	})
	ctx := testContext(t, 4*time.Minute)
	e.deploy(ctx)
	require.Contains(t, e.sim.OpenedPorts(), fmt.Sprintf("%d/tcp", port))
	prom := startPrometheus(t, promBin, fmt.Sprintf("127.0.0.1:%d", port))

	// The gauges are what the last reconcile or check saw; compare them to
	// the simulator after each.
	byState := func() map[string]int {
		out := map[string]int{}
		for _, r := range e.ghRunners() {
			switch {
			case r.Busy:
				out["busy"]++
			case r.Status == "online":
				out["idle"]++
			default:
				out["starting"]++
			}
		}
		return out
	}
	expect := func(what string, want map[string]int) {
		t.Helper()
		for _, state := range []string{"starting", "idle", "busy"} {
			prom.waitValue(ctx, t, fmt.Sprintf(`sum(github_runner_runners{state=%q})`, state), float64(want[state]), what)
		}
		prom.waitValue(ctx, t, `sum(github_runner_runners_wanted)`, 2, what)
	}

	// Deployed: two runners made, starting or already idle.
	prom.waitValue(ctx, t, `sum(github_runner_runners{state=~"starting|idle"})`, 2, "after the deployment")
	prom.waitValue(ctx, t, `sum(github_runner_runners{state=~"busy|dead"})`, 0, "after the deployment")

	// Online and idle, as check-runners sees them.
	e.waitOnline(ctx, 2)
	e.action(ctx, "check-runners", nil)
	want := byState()
	require.Equal(t, map[string]int{"idle": 2}, want)
	expect("online", want)

	// Both take a job.
	jobs := []githubtest.JobID{
		e.gh.QueueJob([]string{"self-hosted"}, 15*time.Second),
		e.gh.QueueJob([]string{"self-hosted"}, 15*time.Second),
	}
	for _, j := range jobs {
		_, err := e.gh.WaitForJob(ctx, j, githubtest.JobInProgress)
		require.NoError(t, err)
	}
	e.action(ctx, "check-runners", nil)
	want = byState()
	require.Equal(t, 2, want["busy"], "%v", want)
	expect("busy", want)

	// The jobs end, the watcher replaces both runners at once.
	for _, j := range jobs {
		_, err := e.gh.WaitForJob(ctx, j, githubtest.JobCompleted)
		require.NoError(t, err)
	}
	// A runner caught stopped before LXD deleted its ephemeral instance
	// counts as dead.
	prom.waitValue(ctx, t, `sum(github_runner_removals_total{kind=~"finished|dead"})`, 2, "finished runners")
	prom.waitValue(ctx, t, `sum(github_runner_creations_total)`, 4, "replacements")
	e.waitOnline(ctx, 2)
	e.action(ctx, "check-runners", nil)
	want = byState()
	require.Equal(t, map[string]int{"idle": 2}, want)
	expect("replaced", want)

	// The rest of what the unit exports.
	prom.waitValue(ctx, t, `sum(github_runner_creation_failures_total)`, 0, "no creation failed")
	prom.waitValue(ctx, t, `count(github_runner_creation_duration_seconds_count > 0)`, 1, "creation durations")
	prom.waitValue(ctx, t, `sum(github_runner_reconciles_total{outcome="success"}) > 0`, -1, "reconciles")
	prom.waitValue(ctx, t, `count(github_runner_github_requests_total{endpoint="POST /orgs/{org}/actions/runners/generate-jitconfig",status="201"})`, 1, "GitHub requests")
	prom.waitValue(ctx, t, `count(github_runner_runner_application_info)`, 1, "runner application version")
	prom.waitValue(ctx, t, `count(github_runner_image_build_timestamp_seconds)`, 1, "image build time")
}

// lookPrometheus finds the prometheus binary (scripts/promtool-up.sh
// installs it); without it the test fails in CI and is skipped elsewhere.
func lookPrometheus(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus is not installed: run scripts/promtool-up.sh")
		}
		t.Skip("prometheus is not installed: run scripts/promtool-up.sh")
	}
	return path
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// prometheus is a Prometheus server of the test's own.
type prometheus struct {
	url string
}

// startPrometheus runs Prometheus on 127.0.0.1 with its own configuration
// and data in a temporary folder, scraping target every second.
func startPrometheus(t *testing.T, bin, target string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: github-runner
    static_configs:
      - targets: [%q]
`, target)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--web.console.templates="+dir, "--web.console.libraries="+dir,
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", tail(string(b), 20))
		}
	})
	return &prometheus{url: "http://" + addr}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// query evaluates an instant PromQL query whose result is one sample, and
// returns its value; ok is false for an empty result.
func (p *prometheus) query(ctx context.Context, q string) (v float64, ok bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false, err
	}
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, false, fmt.Errorf("cannot decode %q: %w", body, err)
	}
	if out.Status != "success" {
		return 0, false, fmt.Errorf("query %s: %s", q, out.Error)
	}
	if len(out.Data.Result) == 0 {
		return 0, false, nil
	}
	s, _ := out.Data.Result[0].Value[1].(string)
	v, err = strconv.ParseFloat(s, 64)
	return v, err == nil, err
}

// waitValue polls q until it gives want (any value for a negative want),
// as the next scrapes catch up.
func (p *prometheus) waitValue(ctx context.Context, t *testing.T, q string, want float64, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	var last string
	for {
		v, ok, err := p.query(ctx, q)
		switch {
		case err != nil:
			last = err.Error()
		case ok && (want < 0 || v == want):
			return
		case ok:
			last = strconv.FormatFloat(v, 'g', -1, 64)
		default:
			last = "no data"
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %s: want %v, last %s", what, q, want, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
