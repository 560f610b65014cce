package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/juju/jujutest"
)

// A bad value blocks the unit with a message naming the option, the hook
// succeeds (Juju does not retry what only the operator can fix), and no
// runner is touched; putting the value back brings the unit back.
func TestBadConfigBlocksTouchingNoRunner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-config", nil)
	ctx := testContext(t, 4*time.Minute)
	e.deploy(ctx)
	before := e.waitOnline(ctx, 1)
	beforeInstances := e.runnerInstances(ctx)

	for _, tc := range []struct {
		name string
		set  map[string]any
		want string
	}{
		{name: "memory not a size", set: map[string]any{"vm-memory": "7XB"},
			want: `vm-memory "7XB": not a size (use e.g. 512MiB or 7GiB)`},
		{name: "instance type", set: map[string]any{"instance-type": "lxc"},
			want: `instance-type "lxc": want virtual-machine or container`},
		{name: "labels", set: map[string]any{"labels": "large,a b"},
			want: `labels "large,a b": invalid label "a b": use letters, digits, _ and -`},
		{name: "path missing", set: map[string]any{"path": ""},
			want: "path: missing: set an organisation or owner/repo"},
		{name: "two problems", set: map[string]any{"vm-cpu": 0, "reconcile-interval": 1},
			want: "vm-cpu 0: at least 1; reconcile-interval 1: at least 2 minutes"},
		{name: "profile that does not exist", set: map[string]any{"lxd-profiles": "e2e-no-such-profile"},
			want: `lxd-profiles "e2e-no-such-profile": profile "e2e-no-such-profile" does not exist in LXD`},
		{name: "base image that does not exist", set: map[string]any{"base-image": "e2e-no-such-image"},
			want: `base-image "e2e-no-such-image": no such image alias or fingerprint in the local LXD image store`},
		{name: "virtual machines without KVM", set: map[string]any{"instance-type": "virtual-machine", "vm-memory": "1GiB"},
			want: `instance-type "virtual-machine": this machine's LXD cannot run virtual machines (drivers: lxc); enable KVM or set instance-type=container`},
		{name: "lxd socket that is not one", set: map[string]any{"lxd-socket": "/nonexistent/unix.socket"},
			want: `lxd-socket "/nonexistent/unix.socket": no LXD socket there (is LXD running?)`},
		{name: "token GitHub rejects", set: map[string]any{"token": "ghp_e2eUnknownToken"},
			want: "token: rejected by GitHub (bad credentials)"},
		{name: "token without the scope", set: map[string]any{"token": noScopeToken},
			want: "token: missing permission: the token needs the admin:org scope for organisation acme"},
		{name: "organisation GitHub does not know", set: map[string]any{"path": "nosuchorg"},
			want: `path "nosuchorg": not found or not visible to the token`},
		{name: "repository GitHub does not know", set: map[string]any{"path": "acme/nosuchrepo"},
			want: `path "acme/nosuchrepo": not found or not visible to the token`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			undo := map[string]any{}
			for k := range tc.set {
				undo[k] = e.config[k]
			}
			r, err := e.sim.Configure(ctx, tc.set)
			require.NoError(t, err, "a configuration problem never fails a hook: %s", e.logTail(20))
			require.Equal(t, 0, r.ExitCode)
			require.Equal(t, jujutest.Status{Status: "blocked", Message: tc.want}, e.sim.UnitStatus())

			// The timer's event and update-status stay blocked too, and
			// succeed.
			res, err := e.sim.Dispatch(ctx, "reconcile-runners", nil)
			require.NoError(t, err)
			require.Equal(t, 0, res.ExitCode)
			e.hook(ctx, "update-status")
			require.Equal(t, jujutest.Status{Status: "blocked", Message: tc.want}, e.sim.UnitStatus())

			require.Equal(t, before, names(e.ghRunners()), "no GitHub runner touched")
			require.Equal(t, beforeInstances, e.runnerInstances(ctx), "no instance touched")

			_, err = e.sim.Configure(ctx, undo)
			require.NoError(t, err)
			require.Equal(t, jujutest.Status{Status: "active", Message: "1/1 runner online"}, e.sim.UnitStatus())
			require.Equal(t, before, names(e.ghRunners()), "the runners survived the round trip")
		})
	}
}
