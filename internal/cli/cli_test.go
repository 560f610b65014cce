package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/runners"
)

// The commands on the test LXD with the GitHub simulator: reconcile builds
// what is missing and starts the runners, check lists them, flush removes
// them, build-image and update-runner-bin do their job.
func TestCommandsOnLXD(t *testing.T) {
	t.Parallel()
	sock := lxdtest.Socket(t)
	client := lxdtest.Client(t)
	const token = "ghp_cliTestToken0123456789"
	gh := githubtest.NewServer(githubtest.Options{Orgs: []string{"acme"}, Tokens: map[string][]string{token: {githubtest.ScopeAdminOrg}}})
	t.Cleanup(gh.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)

	_, port, err := net.SplitHostPort(gh.Addr())
	require.NoError(t, err)
	profile := lxdtest.UniqueName("cli-ghsim")
	require.NoError(t, client.CreateProfile(ctx, lxd.ProfilesPost{Name: profile, ProfilePut: lxd.ProfilePut{
		Devices: map[string]map[string]string{"github-sim": lxdtest.LoopbackProxy(port)},
	}}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, client.DeleteProfile(ctx, profile))
	})
	app := lxdtest.UniqueName("cli") + "x"
	owner, err := runners.NewOwner(app, app+"/0")
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		list, err := client.GetInstances(ctx, lxd.InstanceFilter{Config: map[string]string{runners.KeyApp: app}})
		require.NoError(t, err)
		for _, in := range list {
			t.Errorf("instance %s left behind", in.Name)
			_ = client.RemoveInstance(ctx, in.Name)
		}
		if a, err := client.GetImageAlias(ctx, owner.ImageAlias()); err == nil {
			op, err := client.DeleteImage(ctx, a.Target)
			require.NoError(t, err)
			require.NoError(t, op.Wait(ctx))
		}
		// The command line has no remove: the unit's own storage pool
		// goes with the test.
		lxdtest.DeleteStoragePool(t, client, pool.OwnStoragePoolName(owner))
	})

	env := map[string]string{
		"GITHUB_RUNNER_TOKEN":          token,
		"GITHUB_RUNNER_PATH":           "acme",
		"GITHUB_RUNNER_GITHUB_API_URL": gh.URL(),
		"GITHUB_RUNNER_INSTANCE_TYPE":  "container",
		"GITHUB_RUNNER_BASE_IMAGE":     lxdtest.Image(),
		"GITHUB_RUNNER_VM_MEMORY":      "256MiB",
		"GITHUB_RUNNER_VM_CPU":         "1",
	}
	common := []string{"--lxd-socket", sock, "--lxd-profiles", profile, "--image-packages", "",
		"--state-dir", filepath.Join(t.TempDir(), "state"), "--app", app}
	run := func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		sio := IO{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }}
		for _, c := range Commands() {
			if c.Name == args[0] {
				code := c.Run(ctx, append(append([]string{}, args[1:]...), common...), sio)
				require.NotContains(t, stdout.String()+stderr.String(), token)
				return code, stdout.String(), stderr.String()
			}
		}
		t.Fatalf("no command %s", args[0])
		return 0, "", ""
	}

	code, out, errOut := run(t, "reconcile", "--virtual-machines", "2")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "reconciled "+app+"/0: 0 -> 2 runners (+2)")
	require.Contains(t, errOut, "building the runner image")
	require.NoError(t, gh.WaitFor(ctx, func() bool {
		online := 0
		for _, r := range gh.Runners("acme") {
			if strings.HasPrefix(r.Name, owner.Prefix()) && r.Status == "online" {
				online++
			}
		}
		return online == 2
	}))

	code, out, errOut = run(t, "check", "--virtual-machines", "2")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, app+"/0: 2/2 runners online")
	require.Contains(t, out, "RUNNER")

	code, out, errOut = run(t, "check", "--format", "json")
	require.Equal(t, ExitOK, code, errOut)
	var report struct {
		Online  int          `json:"online"`
		Runners []runnerJSON `json:"runners"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &report))
	require.Equal(t, 2, report.Online)
	require.Len(t, report.Runners, 2)

	// New labels replace the idle runners, as the charm's converge does:
	// the state folder remembers what the runners were made with.
	code, out, errOut = run(t, "reconcile", "--virtual-machines", "2", "--labels", "gpu")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, errOut, "replacing the idle runners: labels or group changed")
	for _, r := range report.Runners {
		require.NoError(t, gh.WaitFor(ctx, func() bool {
			for _, g := range gh.Runners("acme") {
				if g.Name == r.Name {
					return false
				}
			}
			return true
		}), "runner %s with the old labels is still registered", r.Name)
	}
	require.NoError(t, gh.WaitFor(ctx, func() bool {
		labelled := 0
		for _, r := range gh.Runners("acme") {
			if strings.HasPrefix(r.Name, owner.Prefix()) && r.Status == "online" && slices.Contains(r.Labels, "gpu") {
				labelled++
			}
		}
		return labelled == 2
	}))
	// Run again with the same settings: nothing is replaced.
	code, out, errOut = run(t, "reconcile", "--virtual-machines", "2", "--labels", "gpu")
	require.Equal(t, ExitOK, code, errOut)
	require.NotContains(t, errOut, "replacing the idle runners")
	require.Contains(t, out, "(+0)")

	code, out, errOut = run(t, "update-runner-bin")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "is the newest; nothing to do")

	code, out, errOut = run(t, "build-image")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "runner image "+owner.ImageAlias()+" built")

	code, out, errOut = run(t, "flush", "--busy", "--no-reconcile")
	require.Equal(t, ExitOK, code, errOut)
	require.Contains(t, out, "flushed "+app+"/0: 2 -> 0 runners (-2)")
	require.NoError(t, gh.WaitFor(ctx, func() bool {
		for _, r := range gh.Runners("acme") {
			if strings.HasPrefix(r.Name, owner.Prefix()) {
				return false
			}
		}
		return true
	}))

	// A token GitHub rejects: exit 1 and the charm's words for it.
	env["GITHUB_RUNNER_TOKEN"] = "ghp_unknown"
	code, _, errOut = run(t, "check")
	require.Equal(t, ExitFailed, code)
	require.Contains(t, errOut, "token: rejected by GitHub (bad credentials)")
}
