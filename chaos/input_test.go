package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"charm.example/github-runner/bench/rig"
	"charm.example/github-runner/internal/juju/jujutest"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

// deployCharm deploys the packed charm as a unit of r with want runners
// labelled label (and extra configuration), waits until they are online,
// and removes the unit when the test ends.
func deployCharm(ctx context.Context, t *testing.T, r *rig.Rig, prefix string, want int, label string, extra map[string]any) *rig.CharmUnit {
	t.Helper()
	c, err := r.StartCharm(charmBuild(t), prefix, want, label, extra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("cannot remove the charm unit: %v", err)
		}
	})
	if _, err := c.Sim.Deploy(ctx); err != nil {
		t.Fatalf("deploy: %v (status %s; last log lines %v)", err, c.Sim.UnitStatus(), lastLogs(c.Sim, 5))
	}
	if err := r.WaitOnline(ctx, c.Unit, want); err != nil {
		t.Fatal(err)
	}
	return c
}

func lastLogs(s *jujutest.Sim, n int) []string {
	logs := s.Logs()
	var out []string
	for _, l := range logs[max(len(logs)-n, 0):] {
		out = append(out, l.Level+" "+l.Message)
	}
	return out
}

// badConfig is one bad option value and what must be said about it.
type badConfig struct {
	option string
	value  any
	// refused: `juju config` itself refuses the value (wrong type), and no
	// hook runs.
	refused bool
	// says is what the Blocked status (or the refusal) must contain.
	says string
}

func badConfigs(profileMissing, imageMissing string) []badConfig {
	return []badConfig{
		{option: "path", value: "", says: "path: missing"},
		{option: "path", value: "a/b/c", says: `path "a/b/c": want an organisation`},
		{option: "path", value: "acme-nowhere", says: `path "acme-nowhere": not found or not visible to the token`},
		{option: "token", value: "", says: "token: missing"},
		{option: "token", value: "ghp_has space", says: "token: contains white space"},
		{option: "token", value: "ghp_chaos_not_accepted", says: "token: rejected by GitHub (bad credentials)"},
		{option: "token", value: "secret:nonsense", says: "token: not a valid secret URI"},
		{option: "group", value: " ", says: "group: missing"},
		{option: "virtual-machines", value: -1, says: "virtual-machines -1: at least 0"},
		{option: "virtual-machines", value: "three", refused: true, says: "virtual-machines"},
		{option: "vm-cpu", value: 0, says: "vm-cpu 0: at least 1"},
		{option: "vm-memory", value: "7XB", says: `vm-memory "7XB": not a size`},
		{option: "vm-memory", value: "1MiB", says: `vm-memory "1MiB"`},
		{option: "vm-disk", value: "lots", says: `vm-disk "lots": not a size`},
		{option: "reconcile-interval", value: 1, says: "reconcile-interval 1: at least 2 minutes"},
		{option: "labels", value: "ok,not ok!", says: `labels "ok,not ok!"`},
		{option: "instance-type", value: "vm", says: `instance-type "vm": want virtual-machine or container`},
		{option: "base-image", value: imageMissing, says: "no such image alias or fingerprint in the local LXD image store"},
		{option: "image-packages", value: "git,Not_A_Package", says: `"Not_A_Package" is not a Debian package name`},
		{option: "github-api-url", value: "ftp://github.example.com/", says: "github-api-url \"ftp://github.example.com/\": want an http(s) URL"},
		{option: "dockerhub-mirror", value: "http://mirror.example.com", says: "dockerhub-mirror \"http://mirror.example.com\": want an https URL"},
		{option: "lxd-socket", value: "relative/unix.socket", says: `lxd-socket "relative/unix.socket": want an absolute path`},
		{option: "lxd-profiles", value: profileMissing, says: fmt.Sprintf("profile %q does not exist in LXD", profileMissing)},
		{option: "lxd-profiles", value: "bad profile", says: `"bad profile" is not an LXD profile name`},
		{option: "bootstrap-timeout", value: 0, says: "bootstrap-timeout 0: at least 1 minute"},
		{option: "max-parallel-launches", value: 33, says: "max-parallel-launches 33: want 1 to 32"},
		{option: "timer-directory", value: "etc/systemd", says: `timer-directory "etc/systemd": want an absolute path`},
		{option: "cron-directory", value: "", says: `cron-directory "": want an absolute path`},
	}
}

// badAction is action parameters the controller must refuse.
type badAction struct {
	action string
	params map[string]any
	says   string
}

var badActions = []badAction{
	{"flush-runners", map[string]any{"flush-busy": "yes"}, "flush-busy"},
	{"reconcile-runners", map[string]any{"quantity": 50}, "quantity"},
	{"check-runners", map[string]any{"verbose": true}, "verbose"},
	{"update-runner-bin", map[string]any{"version": "2.300.0"}, "version"},
	{"destroy-everything", nil, "not defined"},
}

// TestBadInput sets each bad option value on a deployed unit, and asks for
// each bad action: each gets its own message, and no instance or GitHub
// runner is created or removed.
func TestBadInput(t *testing.T) {
	t.Parallel()
	r := newRig(t, rig.Options{Name: "chaos-input"})
	ctx := deadline(t, 5*time.Minute)
	c := deployCharm(ctx, t, r, "input", 1, "chaos-input", nil)
	good := c.Sim.Config()
	before, err := r.Take(ctx, c.Unit)
	if err != nil {
		t.Fatal(err)
	}
	unchanged := func() error {
		after, err := r.Take(ctx, c.Unit)
		if err != nil {
			return err
		}
		if !slices.Equal(after.Instances, before.Instances) || !slices.Equal(after.GitHub, before.GitHub) {
			return fmt.Errorf("runners changed: LXD %v -> %v, GitHub %v -> %v", before.Instances, after.Instances, before.GitHub, after.GitHub)
		}
		return nil
	}

	for _, bc := range badConfigs(lxdtest.UniqueName("chaos-no-profile"), lxdtest.UniqueName("chaos-no-image")) {
		name := fmt.Sprintf("config %s=%q", bc.option, fmt.Sprint(bc.value))
		said, err := configTrial(ctx, c, bc, unchanged)
		// Put the good value back without a hook: the next case then has
		// only its own bad option.
		if rerr := c.Sim.SetConfig(map[string]any{bc.option: good[bc.option]}); rerr != nil {
			t.Fatalf("cannot restore %s: %v", bc.option, rerr)
		}
		record("input: configuration", err == nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		t.Logf("%s: %s; nothing changed", name, said)
	}
	for _, ba := range badActions {
		name := fmt.Sprintf("action %s %v", ba.action, ba.params)
		said, err := actionTrial(ctx, c, ba, unchanged)
		record("input: action parameters", err == nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		t.Logf("%s: refused: %s; nothing changed", name, said)
	}

	// Good again: the unit comes back to Active with the same runners.
	if _, err := c.Sim.RunHook(ctx, "config-changed"); err != nil {
		t.Fatalf("config-changed with the good configuration: %v", err)
	}
	if st := c.Sim.UnitStatus(); st.Status != "active" {
		t.Errorf("with the good configuration back, the unit is %s", st)
	}
	if err := unchanged(); err != nil {
		t.Error(err)
	}
}

func configTrial(ctx context.Context, c *rig.CharmUnit, bc badConfig, unchanged func() error) (string, error) {
	values := map[string]any{bc.option: bc.value}
	if bc.refused {
		err := c.Sim.SetConfig(values)
		if err == nil {
			return "", errors.New("juju config accepted it")
		}
		if !strings.Contains(err.Error(), bc.says) {
			return "", fmt.Errorf("refused with %q, which does not say %q", err, bc.says)
		}
		return "juju config refused it: " + err.Error(), unchanged()
	}
	run, err := c.Sim.Configure(ctx, values)
	if err != nil {
		return "", fmt.Errorf("config-changed failed instead of blocking: %v (stderr %q)", err, run.Stderr)
	}
	st := c.Sim.UnitStatus()
	if st.Status != "blocked" || !strings.Contains(st.Message, bc.says) {
		return "", fmt.Errorf("status %q, want blocked saying %q", st, bc.says)
	}
	return st.String(), unchanged()
}

func actionTrial(ctx context.Context, c *rig.CharmUnit, ba badAction, unchanged func() error) (string, error) {
	res, err := c.Sim.RunAction(ctx, ba.action, ba.params)
	var refused *jujutest.ActionRefusedError
	if !errors.As(err, &refused) {
		return "", fmt.Errorf("not refused: result %+v, error %v", res, err)
	}
	if !strings.Contains(refused.Reason, ba.says) {
		return "", fmt.Errorf("refused with %q, which does not say %q", refused.Reason, ba.says)
	}
	return refused.Reason, unchanged()
}
