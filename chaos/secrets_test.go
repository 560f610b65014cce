package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

// secretScan collects, per place, every text the secrets could leak into.
type secretScan struct {
	secrets []string
	// found lists, per place, where a secret appeared.
	found map[string][]string
	// allowed lists where a secret appeared as it must.
	allowed []string
}

func (s *secretScan) check(place, where, text string) {
	for i, sec := range s.secrets {
		if strings.Contains(text, sec) {
			s.found[place] = append(s.found[place], fmt.Sprintf("%s holds secret %d", where, i))
		}
	}
}

func (s *secretScan) has(text string) bool {
	for _, sec := range s.secrets {
		if strings.Contains(text, sec) {
			return true
		}
	}
	return false
}

// TestSecrets runs a unit through its life with a recognisable token, then
// looks for the token and every JIT config GitHub handed out in everything
// the charm and its runners expose. They may appear only in files of mode
// 0600 and in a Juju secret the unit owns, never in its charm state; a JIT
// config also in the environment of its runner's processes (root only),
// which the scan checks as its positive control.
func TestSecrets(t *testing.T) {
	t.Parallel()
	token := "ghp_CHAOSSECRET" + strings.ToUpper(lxdtest.UniqueName("x")[2:])
	r := newRig(t, rig.Options{Name: "chaos-secrets", Token: token, Sim: githubtest.Options{Record: true}})
	ctx := deadline(t, 5*time.Minute)

	// The host's process list, sampled while the unit lives: hook tools,
	// the charm, and the instances' processes (visible from the host).
	argv := sampleArgv(ctx)

	c := deployCharm(ctx, t, r, "secrets", 2, "chaos-secrets", nil)
	var actions []string
	for _, a := range []struct {
		name   string
		params map[string]any
	}{
		{"check-runners", nil},
		{"reconcile-runners", nil},
		{"flush-runners", map[string]any{"flush-busy": true}},
		{"update-runner-bin", nil},
		{"check-runners", nil},
	} {
		res, err := c.Sim.RunAction(ctx, a.name, a.params)
		if err != nil {
			t.Fatalf("action %s: %v", a.name, err)
		}
		b, _ := json.Marshal(res)
		actions = append(actions, string(b))
	}
	// A job ends and its runner is replaced (by the exit watcher, or by
	// the timer fired here); a label change replaces the idle ones: more
	// JIT configs handed out.
	if err := r.WaitOnline(ctx, c.Unit, 2); err != nil {
		t.Fatal(err)
	}
	id := r.Sim.QueueJob([]string{"chaos-secrets"}, 100*time.Millisecond)
	if _, err := r.Sim.WaitForJob(ctx, id, githubtest.JobCompleted); err != nil {
		t.Fatal(err)
	}
	if err := c.FireTimer(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sim.Configure(ctx, map[string]any{"labels": "chaos-secrets,relabelled"}); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitOnline(ctx, c.Unit, 2); err != nil {
		t.Fatal(err)
	}

	scan := &secretScan{secrets: []string{token}, found: map[string][]string{}}
	for _, ex := range r.Sim.Exchanges() {
		if ex.Endpoint != "POST /orgs/{org}/actions/runners/generate-jitconfig" || ex.Status != 201 {
			continue
		}
		var body struct {
			Config string `json:"encoded_jit_config"`
		}
		if err := json.Unmarshal(ex.ResponseBody, &body); err == nil && body.Config != "" {
			scan.secrets = append(scan.secrets, body.Config)
		}
	}
	if len(scan.secrets) < 5 {
		t.Fatalf("only %d JIT configs handed out; the unit did less than planned", len(scan.secrets)-1)
	}
	t.Logf("looking for the token and %d JIT configs", len(scan.secrets)-1)

	// Everything Juju shows or keeps.
	for _, l := range c.Sim.Logs() {
		scan.check("juju logs", "a "+l.Level+" line of "+l.Context, l.Message)
	}
	for _, st := range c.Sim.StatusHistory() {
		scan.check("statuses", "a status of "+st.Context, st.String())
	}
	scan.check("statuses", "the unit status", c.Sim.UnitStatus().String())
	scan.check("statuses", "the application status", c.Sim.ApplicationStatus().String())
	for i, a := range actions {
		scan.check("action results", fmt.Sprintf("action result %d", i+1), a)
	}
	for _, run := range c.Sim.Runs() {
		scan.check("hook output", "the output of "+run.Kind+" "+run.Name, run.Stdout+run.Stderr)
		if run.Action != nil {
			b, _ := json.Marshal(run.Action)
			scan.check("action results", "the action "+run.Name, string(b))
		}
	}
	// Charm state is no secret store: the old-runner flush reads the token
	// from a secret the unit owns, which Juju keeps as a secret.
	for k, v := range c.Sim.State() {
		scan.check("charm state", "charm state key "+k, v)
	}
	owned := 0
	for _, content := range c.Sim.OwnedSecrets() {
		owned += len(content)
	}
	if owned == 0 {
		t.Error("the unit keeps its GitHub credentials in no secret of its own")
	}

	// The instances: their configuration and their process lists.
	list, err := r.Instances(ctx, c.Unit)
	if err != nil {
		t.Fatal(err)
	}
	positive := false
	for _, in := range list {
		full, err := r.LXD.GetInstance(ctx, in.Name)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(full)
		scan.check("instance configuration", "instance "+in.Name, string(b))
		out, err := r.LXD.ExecInstance(ctx, in.Name, lxd.ExecArgs{Command: []string{"ps", "-o", "args"}})
		if err != nil {
			t.Fatal(err)
		}
		scan.check("instance process lists", "ps in "+in.Name, string(out.Stdout))
		// Positive control: the runner's own environment holds its JIT
		// config (readable by root only).
		env, err := r.LXD.ExecInstance(ctx, in.Name, lxd.ExecArgs{Command: []string{"sh", "-c",
			"for p in /proc/[0-9]*; do tr '\\0' '\\n' < $p/environ 2>/dev/null; done"}})
		if err == nil && containsAny(string(env.Stdout), scan.secrets[1:]) {
			positive = true
		}
	}
	if !positive {
		t.Errorf("positive control failed: no runner's process environment holds a JIT config, so the scan may be blind")
	}

	// Every file the unit wrote: its agent folder (charm folder, runner
	// manager state), the timer and cron folders.
	for _, dir := range []string{filepath.Dir(c.Sim.CharmDir()), c.Unit.StateDir, c.TimerDir, c.CronDir} {
		scanFiles(t, scan, dir)
	}

	// The host's process list.
	for _, a := range argv() {
		scan.check("host process list", "argv "+strconv.Quote(truncate(a, 80)), a)
	}

	for _, place := range []string{"juju logs", "statuses", "action results", "hook output", "charm state",
		"instance configuration", "instance process lists", "files", "host process list"} {
		found := scan.found[place]
		record("secrets: "+place, len(found) == 0)
		if len(found) > 0 {
			t.Errorf("a secret leaked into %s: %v%s", place, found, hint(found))
		}
	}
	t.Logf("secrets appear only where they must: %v", scan.allowed)
}

// hint explains a leak whose cause is known.
func hint(found []string) string {
	for _, f := range found {
		if strings.Contains(f, "lxd forkexec") {
			return "\n\tLXD 5.0 runs an exec as `lxd forkexec NAME ... -- env KEY=VALUE... -- CMD`, so the environment " +
				"of an exec (the runner's JIT config, passed in the start command's environment) is on the host's process " +
				"list, readable by every local user, while the exec runs. Hand the JIT config to the instance in a file of " +
				"mode 0600 (pushed with the files API) that the start script reads and deletes, not in the exec's environment."
		}
	}
	return ""
}

func containsAny(text string, subs []string) bool {
	for _, s := range subs {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// scanFiles checks every regular file under dir: one holding a secret
// must be readable by its owner only.
func scanFiles(t *testing.T, scan *secretScan, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil || !scan.has(string(b)) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o077 != 0 {
			scan.check("files", fmt.Sprintf("%s (mode %v)", path, info.Mode().Perm()), string(b))
			return nil
		}
		scan.allowed = append(scan.allowed, fmt.Sprintf("%s (mode %v)", path, info.Mode().Perm()))
		return nil
	})
	if err != nil {
		t.Errorf("cannot scan %s: %v", dir, err)
	}
}

// maxArgv bounds the distinct command lines kept by sampleArgv.
const maxArgv = 50000

// sampleArgv reads every process's command line every few milliseconds
// until ctx ends; the returned function gives the distinct ones seen so far.
func sampleArgv(ctx context.Context) func() []string {
	var mu sync.Mutex
	seen := map[string]bool{}
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			entries, _ := os.ReadDir("/proc")
			for _, e := range entries {
				if _, err := strconv.Atoi(e.Name()); err != nil {
					continue
				}
				b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
				if err != nil || len(b) == 0 {
					continue
				}
				line := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
				mu.Lock()
				if len(seen) < maxArgv {
					seen[line] = true
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := make([]string, 0, len(seen))
		for l := range seen {
			out = append(out, l)
		}
		return out
	}
}
