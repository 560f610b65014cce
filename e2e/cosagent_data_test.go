package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/cosagent"
	"charm.example/github-runner/internal/juju/jujutest"
)

// The charm writes its cos_agent data on -joined and -changed, as the
// consumer decodes it: the scrape job of metrics-port, the alert rules and
// the dashboard; config-changed rewrites it when the port changes, and
// opens the port.
func TestCosAgentRelationData(t *testing.T) {
	t.Parallel()
	s := jujutest.Start(t, jujutest.Options{Charm: builds.Charm, Tools: builds.Tools, Leader: true,
		PrivateAddress: "127.0.0.1", Config: map[string]any{"metrics-port": 9555}})
	ctx := testContext(t, time.Minute)

	id, err := s.Relate(ctx, jujutest.RelationOptions{
		Endpoint: "cos-agent", RemoteApp: "grafana-agent",
		RemoteUnits: map[string]map[string]string{"grafana-agent/0": {}},
	})
	require.NoError(t, err)
	for _, r := range s.Runs() {
		require.Equal(t, 0, r.ExitCode, "%s: %s", r.Name, r.Stderr)
	}
	decode := func() cosagent.UnitData {
		t.Helper()
		rel, err := s.Relation(id)
		require.NoError(t, err)
		d, err := cosagent.Decode(rel.Unit)
		require.NoError(t, err, "the unit's databag: %v", rel.Unit)
		return d
	}
	d := decode()
	require.Len(t, d.MetricsScrapeJobs, 1)
	job := d.MetricsScrapeJobs[0]
	require.Equal(t, "/metrics", job["metrics_path"])
	require.Equal(t, []any{map[string]any{"targets": []any{"localhost:9555"}}}, job["static_configs"])
	require.Len(t, d.Dashboards, 1)
	groups, _ := d.MetricsAlertRules["groups"].([]any)
	require.Len(t, groups, 2, "the charm's group and the generic one")
	require.Contains(t, s.OpenedPorts(), "9555/tcp")

	// A new port: config-changed (blocked here: no path or token) still
	// refreshes the data and the opened port.
	require.NoError(t, s.SetConfig(map[string]any{"metrics-port": 9556}))
	_, err = s.RunHook(ctx, "config-changed")
	require.NoError(t, err)
	require.Equal(t, "blocked", s.UnitStatus().Status)
	d = decode()
	require.Equal(t, []any{map[string]any{"targets": []any{"localhost:9556"}}}, d.MetricsScrapeJobs[0]["static_configs"])
	require.Equal(t, []string{"9556/tcp"}, s.OpenedPorts())

	// metrics-port=0: no scrape job; rules and dashboard stay.
	require.NoError(t, s.SetConfig(map[string]any{"metrics-port": 0}))
	_, err = s.RunHook(ctx, "config-changed")
	require.NoError(t, err)
	d = decode()
	require.Empty(t, d.MetricsScrapeJobs)
	require.Len(t, d.Dashboards, 1)
	require.Empty(t, s.OpenedPorts())
}
