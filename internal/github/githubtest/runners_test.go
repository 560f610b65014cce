package githubtest_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

type listenerResult struct {
	code int
	err  error
}

// startListener runs an in-process listener for a JIT configuration; it is
// stopped, and waited for, when the test ends. The first channel gets its
// result; the second is closed once the listener holds a session.
func startListener(t *testing.T, ctx context.Context, encoded string) (<-chan listenerResult, <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan listenerResult, 1)
	finished := make(chan struct{})
	connected := make(chan struct{})
	go func() {
		defer close(finished)
		code, err := githubtest.RunListener(ctx, githubtest.ListenerOptions{
			JITConfig:     encoded,
			RetryInterval: 50 * time.Millisecond,
			OnConnected:   func() { close(connected) },
		})
		done <- listenerResult{code, err}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("listener did not stop")
		}
	})
	return done, connected
}

func online(r githubtest.Runner, ok bool) bool { return ok && r.Online() }
func gone(_ githubtest.Runner, ok bool) bool   { return !ok }

func TestJITRunnerRunsOneJob(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)
	j := jit(t, srv, "orgs/acme", "go-1", "gpu")
	done, _ := startListener(t, ctx, j.EncodedJITConfig)

	r, err := srv.WaitForRunner(ctx, "acme", "go-1", online)
	require.NoError(t, err)
	assert.Equal(t, "Linux", r.OS)
	assert.False(t, r.Busy)

	other := srv.QueueJob([]string{"self-hosted", "no-such-label"}, time.Second)
	id := srv.QueueJob([]string{"self-hosted", "linux", "GPU"}, time.Second)
	job, err := srv.WaitForJob(ctx, id, githubtest.JobInProgress)
	require.NoError(t, err)
	assert.Equal(t, "go-1", job.RunnerName)

	a := call(t, srv, http.MethodGet, fmt.Sprintf("orgs/acme/actions/runners/%d", j.Runner.ID), adminToken, nil)
	var got struct {
		Status string `json:"status"`
		Busy   bool   `json:"busy"`
	}
	a.json(t, &got)
	if job, _ := srv.Job(id); job.State == githubtest.JobInProgress {
		assert.True(t, got.Busy, "busy while the job runs")
		assert.Equal(t, "online", got.Status)
	}

	job, err = srv.WaitForJob(ctx, id, githubtest.JobCompleted)
	require.NoError(t, err)
	assert.Equal(t, githubtest.ConclusionSuccess, job.Conclusion)
	assert.GreaterOrEqual(t, job.CompletedAt.Sub(job.StartedAt), time.Second)

	_, err = srv.WaitForRunner(ctx, "acme", "go-1", gone)
	require.NoError(t, err, "an ephemeral runner is de-registered after its job")
	select {
	case res := <-done:
		assert.Equal(t, githubtest.ExitDone, res.code)
		assert.NoError(t, res.err)
	case <-ctx.Done():
		t.Fatal("the listener did not exit after its job")
	}
	stillQueued, _ := srv.Job(other)
	assert.Equal(t, githubtest.JobQueued, stillQueued.State, "no runner carries the label")
}

func TestListenerLifecycle(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 30*time.Second)

	t.Run("stopping the listener takes the runner offline at once", func(t *testing.T) {
		j := jit(t, srv, "orgs/acme", "stop-me", "x")
		lctx, cancel := context.WithCancel(ctx)
		done, connected := startListener(t, lctx, j.EncodedJITConfig)
		_, err := srv.WaitForRunner(ctx, "acme", "stop-me", online)
		require.NoError(t, err)
		<-connected
		cancel()
		res := <-done
		assert.Equal(t, githubtest.ExitDone, res.code)
		r, ok := srv.RunnerByName("acme", "stop-me")
		require.True(t, ok, "a stopped runner stays registered")
		assert.Equal(t, "offline", r.Status)
	})
	t.Run("deleting the runner ends its listener", func(t *testing.T) {
		j := jit(t, srv, "orgs/acme", "delete-me", "x")
		done, _ := startListener(t, ctx, j.EncodedJITConfig)
		_, err := srv.WaitForRunner(ctx, "acme", "delete-me", online)
		require.NoError(t, err)
		a := call(t, srv, http.MethodDelete, fmt.Sprintf("orgs/acme/actions/runners/%d", j.Runner.ID), adminToken, nil)
		require.Equal(t, http.StatusNoContent, a.Status)
		res := <-done
		assert.Equal(t, githubtest.ExitFatal, res.code)
		assert.ErrorContains(t, res.err, "deleted")
	})
	t.Run("a second listener is a session conflict", func(t *testing.T) {
		j := jit(t, srv, "orgs/acme", "twice", "x")
		startListener(t, ctx, j.EncodedJITConfig)
		_, err := srv.WaitForRunner(ctx, "acme", "twice", online)
		require.NoError(t, err)
		code, err := githubtest.RunListener(ctx, githubtest.ListenerOptions{JITConfig: j.EncodedJITConfig})
		assert.Equal(t, githubtest.ExitConflict, code)
		assert.Error(t, err)
	})
	t.Run("an unreachable service is retryable", func(t *testing.T) {
		dead := newUncheckedServer(t, githubtest.Options{})
		j := jit(t, dead, "orgs/acme", "lost", "x")
		dead.Close()
		code, err := githubtest.RunListener(ctx, githubtest.ListenerOptions{
			JITConfig: j.EncodedJITConfig, MaxFailures: 3, RetryInterval: 10 * time.Millisecond,
		})
		assert.Equal(t, githubtest.ExitRetryable, code)
		assert.ErrorContains(t, err, "unreachable")
	})
	t.Run("a bad configuration is fatal", func(t *testing.T) {
		code, err := githubtest.RunListener(ctx, githubtest.ListenerOptions{JITConfig: "not base64!"})
		assert.Equal(t, githubtest.ExitFatal, code)
		assert.Error(t, err)
	})
}

// runnerCall speaks the runner-service protocol directly.
func runnerCall(t *testing.T, srv *githubtest.Server, name string, kv ...string) map[string]string {
	t.Helper()
	var body strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&body, "%s=%s\n", kv[i], kv[i+1])
	}
	req, err := http.NewRequestWithContext(testContext(t, 20*time.Second), http.MethodPost, srv.URL()+"_runner/"+name, strings.NewReader(body.String()))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		out[k] = v
	}
	return out
}

func jitSecret(t *testing.T, encoded string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(encoded)
	require.NoError(t, err)
	var cfg struct {
		Secret string `json:"secret"`
	}
	require.NoError(t, json.Unmarshal(raw, &cfg))
	return cfg.Secret
}

func TestSilentListenerGoesOffline(t *testing.T) {
	t.Parallel()
	clock := githubtest.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := newServer(t, githubtest.Options{Clock: clock, OfflineAfter: 10 * time.Second, PollTimeout: time.Second})
	j := jit(t, srv, "orgs/acme", "quiet", "x")
	id := fmt.Sprint(j.Runner.ID)

	assert.Equal(t, "denied", runnerCall(t, srv, "sessions", "runner_id", id, "secret", "wrong")["status"])
	ans := runnerCall(t, srv, "sessions", "runner_id", id, "secret", jitSecret(t, j.EncodedJITConfig), "os", "Linux", "arch", "ARM64", "version", "2.319.1")
	require.Equal(t, "ok", ans["status"])
	session := ans["session_id"]
	assert.Equal(t, "1", ans["poll_timeout"])
	r, _ := srv.Runner(j.Runner.ID)
	assert.Equal(t, "online", r.Status)
	assert.Contains(t, r.Labels, "ARM64", "the architecture comes from the listener")
	assert.Equal(t, "conflict", runnerCall(t, srv, "sessions", "runner_id", id, "secret", jitSecret(t, j.EncodedJITConfig))["status"])

	job := srv.QueueJob([]string{"x"}, time.Minute)
	poll := runnerCall(t, srv, "poll", "session_id", session)
	require.Equal(t, "job", poll["status"])
	assert.Equal(t, fmt.Sprint(job), poll["job_id"])
	progress := runnerCall(t, srv, "progress", "session_id", session, "job_id", poll["job_id"])
	assert.Equal(t, "running", progress["status"])
	assert.Equal(t, "1.000", progress["sleep"])

	clock.Advance(11 * time.Second)
	r, _ = srv.Runner(j.Runner.ID)
	assert.Equal(t, "offline", r.Status, "no word from the listener for longer than OfflineAfter")
	assert.False(t, r.Busy)
	got, _ := srv.Job(job)
	assert.Equal(t, githubtest.JobCompleted, got.State)
	assert.Equal(t, githubtest.ConclusionFailure, got.Conclusion)
	assert.Equal(t, "expired", runnerCall(t, srv, "poll", "session_id", session)["status"])
	assert.Equal(t, "gone", runnerCall(t, srv, "sessions", "runner_id", "424242", "secret", "x")["status"])
}

func TestSimulatedRunnersRunJobsByTheClock(t *testing.T) {
	t.Parallel()
	clock := githubtest.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := newServer(t, githubtest.Options{Clock: clock})
	ctx := testContext(t, 10*time.Second)
	org, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: "org-runner", Online: true, Ephemeral: true, Labels: []string{"big"}})
	require.NoError(t, err)
	offline, err := srv.AddRunner("acme/website", githubtest.RunnerSeed{Name: "offline", Labels: []string{"big"}})
	require.NoError(t, err)

	id := srv.QueueJobFor("acme/website", []string{"big"}, 10*time.Minute)
	job, err := srv.WaitForJob(ctx, id, githubtest.JobInProgress)
	require.NoError(t, err)
	assert.Equal(t, org.ID, job.RunnerID, "a repository's job may run on its organization's runners; the offline one is skipped")
	r, _ := srv.Runner(org.ID)
	assert.True(t, r.Busy)

	next := srv.QueueJob([]string{"big"}, time.Minute)
	clock.Advance(10 * time.Minute)
	job, err = srv.WaitForJob(ctx, id, githubtest.JobCompleted)
	require.NoError(t, err)
	assert.Equal(t, githubtest.ConclusionSuccess, job.Conclusion)
	_, err = srv.WaitForRunner(ctx, "acme", "org-runner", gone)
	require.NoError(t, err)

	waiting, _ := srv.Job(next)
	assert.Equal(t, githubtest.JobQueued, waiting.State)
	require.NoError(t, srv.SetRunnerStatus(offline.ID, true))
	job, err = srv.WaitForJob(ctx, next, githubtest.JobInProgress)
	require.NoError(t, err)
	assert.Equal(t, "offline", job.RunnerName)
	assert.Len(t, srv.Jobs(), 2)
}

func TestRegistrationTokenFlow(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	_, err := srv.AddRunnerGroup("acme", "ci")
	require.NoError(t, err)
	token := func(kind string) string {
		a := call(t, srv, http.MethodPost, "orgs/acme/actions/runners/"+kind, adminToken, nil)
		require.Equal(t, http.StatusCreated, a.Status)
		var tok struct{ Token string }
		a.json(t, &tok)
		return tok.Token
	}
	reg := token("registration-token")
	register := func(kv ...string) map[string]string {
		return runnerCall(t, srv, "register", append([]string{"token", reg, "url", srv.WebURL("acme")}, kv...)...)
	}
	ans := register("name", "cfg-1", "labels", "a, b", "runnergroup", "CI", "ephemeral", "1", "arch", "x64")
	require.Equal(t, "ok", ans["status"], ans["message"])
	assert.Equal(t, srv.RunnerURL(), ans["runner_url"])
	assert.Equal(t, "ci", ans["pool_name"])
	r, ok := srv.RunnerByName("acme", "cfg-1")
	require.True(t, ok)
	assert.Equal(t, []string{"self-hosted", "Linux", "X64", "a", "b"}, r.Labels)
	assert.True(t, r.Ephemeral)
	assert.Equal(t, "offline", r.Status)

	tests := []struct {
		name string
		kv   []string
		want string
	}{
		{"name taken", []string{"name", "cfg-1"}, "same name"},
		{"unknown group", []string{"name", "x", "runnergroup", "nope"}, "runner group"},
		{"no name", []string{"name", ""}, "name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ans := register(tt.kv...)
			assert.Equal(t, "error", ans["status"])
			assert.Contains(t, ans["message"], tt.want)
		})
	}
	t.Run("wrong scope URL", func(t *testing.T) {
		ans := runnerCall(t, srv, "register", "token", reg, "url", srv.WebURL("acme/website"), "name", "y")
		assert.Contains(t, ans["message"], "does not match")
	})
	t.Run("bad token", func(t *testing.T) {
		ans := runnerCall(t, srv, "register", "token", "NOPE", "url", srv.WebURL("acme"), "name", "y")
		assert.Contains(t, ans["message"], "invalid")
	})
	t.Run("replace", func(t *testing.T) {
		ans := register("name", "cfg-1", "replace", "1", "no_default_labels", "1", "labels", "only")
		require.Equal(t, "ok", ans["status"])
		r2, _ := srv.RunnerByName("acme", "cfg-1")
		assert.NotEqual(t, r.ID, r2.ID)
		assert.Equal(t, []string{"only"}, r2.Labels)
	})
	t.Run("remove", func(t *testing.T) {
		r2, _ := srv.RunnerByName("acme", "cfg-1")
		assert.Equal(t, "error", runnerCall(t, srv, "unregister", "token", reg, "runner_id", fmt.Sprint(r2.ID))["status"],
			"a registration token cannot remove")
		rm := token("remove-token")
		assert.Equal(t, "ok", runnerCall(t, srv, "unregister", "token", rm, "runner_id", fmt.Sprint(r2.ID))["status"])
		_, ok := srv.RunnerByName("acme", "cfg-1")
		assert.False(t, ok)
	})
}

func TestDownloads(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{RunnerVersion: "2.320.0"})
	a := call(t, srv, http.MethodGet, "orgs/acme/actions/runners/downloads", adminToken, nil)
	require.Equal(t, http.StatusOK, a.Status)
	var downloads []struct {
		OS, Architecture, Filename string
		DownloadURL                string `json:"download_url"`
		SHA256                     string `json:"sha256_checksum"`
	}
	a.json(t, &downloads)
	var pairs []string
	for _, d := range downloads {
		pairs = append(pairs, d.OS+"/"+d.Architecture)
		ext := ".tar.gz"
		if d.OS == "win" {
			ext = ".zip"
		}
		assert.Equal(t, fmt.Sprintf("actions-runner-%s-%s-2.320.0%s", d.OS, d.Architecture, ext), d.Filename)
		resp, err := http.Get(d.DownloadURL)
		require.NoError(t, err)
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		sum := sha256.Sum256(data)
		assert.Equal(t, d.SHA256, hex.EncodeToString(sum[:]), "checksum of %s", d.Filename)
	}
	sort.Strings(pairs)
	assert.Equal(t, []string{"linux/arm", "linux/arm64", "linux/x64", "osx/arm64", "osx/x64", "win/arm64", "win/x64"}, pairs)

	name, data, err := srv.RunnerArchive("linux", "arm64")
	require.NoError(t, err)
	assert.Equal(t, "actions-runner-linux-arm64-2.320.0.tar.gz", name)
	files := untar(t, data)
	assert.Equal(t, int64(0o755), files["./run.sh"].Mode)
	assert.Equal(t, int64(0o755), files["./config.sh"].Mode)
	assert.Equal(t, int64(0o755), files["./bin/Runner.Listener"].Mode)
	assert.Contains(t, string(files["./bin/standin.env"].data), "RUNNER_ARCH=ARM64")

	again := newUncheckedServer(t, githubtest.Options{RunnerVersion: "2.320.0"})
	_, data2, err := again.RunnerArchive("linux", "arm64")
	require.NoError(t, err)
	assert.Equal(t, data, data2, "archives are deterministic")

	resp, err := http.Get(srv.URL() + "actions/runner/releases/download/v9.9.9/" + name)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

type tarFile struct {
	*tar.Header
	data []byte
}

func untar(t *testing.T, data []byte) map[string]tarFile {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	out := map[string]tarFile{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[h.Name] = tarFile{h, b}
	}
}

func TestControlAPI(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	post := func(path, body string) *http.Response {
		resp, err := http.Post(srv.URL()+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := post("_sim/tokens", `{"token":"ghp_new","scopes":["admin:org"]}`)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "orgs/acme/actions/runners", "ghp_new", nil).Status)

	_, err := srv.AddRunner("acme", githubtest.RunnerSeed{Name: "sim", Online: true})
	require.NoError(t, err)
	resp = post("_sim/jobs", `{"labels":["self-hosted"],"duration":"1h"}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var created struct{ ID int64 }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))

	get := func(path string, v any) {
		resp, err := http.Get(srv.URL() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
	}
	var job githubtest.Job
	get(fmt.Sprintf("_sim/jobs/%d", created.ID), &job)
	assert.Equal(t, githubtest.JobInProgress, job.State)
	assert.Equal(t, "sim", job.RunnerName)
	var runners []githubtest.Runner
	get("_sim/runners", &runners)
	require.Len(t, runners, 1)
	assert.True(t, runners[0].Busy)
	var counts map[string]int
	get("_sim/counts", &counts)
	assert.Equal(t, 1, counts["GET /orgs/{org}/actions/runners"])
	var stats map[string]githubtest.EndpointStats
	get("_sim/stats", &stats)
	assert.Equal(t, githubtest.EndpointStats{Requests: 1, RatePoints: 1}, stats["GET /orgs/{org}/actions/runners"])
	assert.Equal(t, http.StatusBadRequest, post("_sim/jobs", `{"duration":"soon"}`).StatusCode)

	resp = post("_sim/apps", `{"name":"From Outside"}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var app struct {
		ID         int64  `json:"id"`
		ClientID   string `json:"client_id"`
		PrivateKey string `json:"private_key"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&app))
	assert.Contains(t, app.PrivateKey, "-----BEGIN RSA PRIVATE KEY-----")
	resp = post("_sim/installations", fmt.Sprintf(`{"app_id":%d,"account":"acme","permissions":{"organization_self_hosted_runners":"read"}}`, app.ID))
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var inst struct {
		ID        int64 `json:"id"`
		RateLimit int   `json:"rate_limit"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&inst))
	assert.Equal(t, 15000, inst.RateLimit, "acme is an organization of an enterprise")
	tok, err := srv.CreateInstallationToken(inst.ID)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, "orgs/acme/actions/runners", tok.Token, nil).Status)
	assert.Equal(t, http.StatusBadRequest, post("_sim/installations", `{"app_id":999,"account":"acme"}`).StatusCode)
}
