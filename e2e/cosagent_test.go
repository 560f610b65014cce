package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/cosagent"
	"charm.example/github-runner/internal/juju/jujutest"
)

// The packed charm carries its alert rules and dashboards, declares
// cos-agent, and comes through the relation's hooks, which Juju runs
// whether or not the charm handles them, without error.
func TestPackedCharmAndTheCosAgentRelation(t *testing.T) {
	t.Parallel()
	s := jujutest.Start(t, jujutest.Options{Charm: builds.Charm, Tools: builds.Tools, Leader: true})
	ctx := testContext(t, time.Minute)

	rel, ok := s.Meta().Provides["cos-agent"]
	require.True(t, ok, "metadata.yaml provides cos-agent")
	require.Equal(t, "cos_agent", rel.Interface)

	id, err := s.Relate(ctx, jujutest.RelationOptions{
		Endpoint: "cos-agent", RemoteApp: "grafana-agent",
		RemoteUnits: map[string]map[string]string{"grafana-agent/0": {}},
	})
	require.NoError(t, err)
	require.NoError(t, s.RemoveRelation(ctx, id))
	var hooks []string
	for _, r := range s.Runs() {
		require.Equal(t, 0, r.ExitCode, "%s: %s", r.Name, r.Stderr)
		hooks = append(hooks, r.Name)
	}
	require.Equal(t, []string{
		"cos-agent-relation-created", "cos-agent-relation-joined", "cos-agent-relation-changed",
		"cos-agent-relation-departed", "cos-agent-relation-broken",
	}, hooks)
	require.NotEqual(t, "error", s.UnitStatus().Status)

	// What the charm will send, built from the unit's charm folder.
	d, err := cosagent.Build(cosagent.Options{
		Topology: cosagent.Topology{Model: "test-model", ModelUUID: "7c2a3d3e-8f0b-4d4e-9b1a-6f5e4d3c2b1a",
			Application: "github-runner", Unit: s.Unit(), CharmName: s.Meta().Name},
		CharmDir: s.CharmDir(),
	})
	require.NoError(t, err)
	require.Len(t, d.Dashboards, 1)
	require.Len(t, d.MetricsAlertRules["groups"], 2, "the charm's group and the generic one")
}
