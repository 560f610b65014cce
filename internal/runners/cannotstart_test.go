package runners_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/runners"
)

// withoutICU is the real LXD backend whose new instances lose the ICU
// library before the runner starts, as on an image that lacks it.
type withoutICU struct{ runners.LXDInstances }

func (w withoutICU) LaunchInstance(ctx context.Context, spec runners.LaunchSpec) error {
	if err := w.LXDInstances.LaunchInstance(ctx, spec); err != nil {
		return err
	}
	_, err := w.Exec(ctx, spec.Name, runners.Command{Args: []string{"sh", "-c", "rm -f /usr/lib/libicuuc.so* /usr/lib/*-linux-gnu/libicuuc.so*"}})
	return err
}

// A runner that cannot start (the runner aborts without libicu) keeps its
// instance instead of powering off and being replaced at once, in a loop;
// the next reconcile removes it, saying what the runner said.
func TestRunnerThatCannotStartIsReportedNotLooped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, log := f.manager("noicu", "noicu/0", func(c *runners.Config) {
		c.Instances = withoutICU{runners.LXDInstances{Client: f.lxd}}
	})
	_, err := m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	first := f.instances(m)
	require.Len(t, first, 1)
	var dead runners.RunnerInfo
	f.waitFor("the runner to fail to start", func() bool {
		rs, err := m.Runners(f.ctx)
		if err != nil || len(rs) != 1 {
			return false
		}
		dead = rs[0]
		return rs[0].State == runners.StateDead
	})
	require.Equal(t, runners.RemovalCannotStart, dead.Reason.Kind)
	require.Contains(t, dead.Reason.String(), "Couldn't find a valid ICU package")
	require.Equal(t, first, f.instances(m), "the instance stays until a reconcile removes it")

	_, err = m.Reconcile(f.ctx, 1, res)
	require.NoError(t, err)
	var removal string
	for _, l := range log.Lines() {
		if strings.HasPrefix(l, "Removed runner ") {
			removal = l
		}
	}
	require.Contains(t, removal, "the runner could not start")
	require.Contains(t, removal, "ICU")
}
