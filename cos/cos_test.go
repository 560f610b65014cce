// Package cos_test checks the charm's alert rules and Grafana dashboard:
// promtool validates and unit-tests the rules, and every query names only
// metrics the charm defines.
package cos_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v2"

	"charm.example/github-runner/internal/metrics"
)

// promtool finds promtool; without it the test fails in CI (CI=true) and
// is skipped elsewhere. scripts/promtool-up.sh installs it.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed: run scripts/promtool-up.sh (make test does)")
		}
		t.Skip("promtool is not installed: run scripts/promtool-up.sh")
	}
	return path
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func files(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.NotEmpty(t, m, pattern)
	return m
}

func TestPromtoolCheckRules(t *testing.T) {
	runPromtool(t, append([]string{"check", "rules"}, files(t, "prometheus_alert_rules/*.rules")...)...)
}

func TestPromtoolTestRules(t *testing.T) {
	runPromtool(t, append([]string{"test", "rules"}, files(t, "tests/*.test.yaml")...)...)
}

// TestEveryAlertIsUnitTested: each alert of the rules has a test that
// expects it to fire.
func TestEveryAlertIsUnitTested(t *testing.T) {
	tested := map[string]bool{}
	for _, f := range files(t, "tests/*.test.yaml") {
		var doc struct {
			Tests []struct {
				AlertRuleTest []struct {
					AlertName string `yaml:"alertname"`
					ExpAlerts []any  `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(data, &doc))
		for _, tc := range doc.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					tested[a.AlertName] = true
				}
			}
		}
	}
	for _, rule := range alertRules(t) {
		require.True(t, tested[rule.Alert], "alert %s has no test that fires it", rule.Alert)
	}
}

type rule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
}

func alertRules(t *testing.T) []rule {
	t.Helper()
	var out []rule
	for _, f := range files(t, "prometheus_alert_rules/*.rules") {
		var doc struct {
			Groups []struct {
				Rules []rule `yaml:"rules"`
			} `yaml:"groups"`
		}
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(data, &doc))
		for _, g := range doc.Groups {
			out = append(out, g.Rules...)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// dashboardExprs are the queries of every panel of every dashboard, with
// Grafana's variables replaced so that they parse.
func dashboardExprs(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	grafana := strings.NewReplacer("$__rate_interval", "5m", "$juju_unit", ".*")
	for _, f := range files(t, "grafana_dashboards/*.json") {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var d struct {
			Title  string `json:"title"`
			UID    string `json:"uid"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(data, &d), f)
		require.NotEmpty(t, d.Title, f)
		require.Empty(t, d.UID, "%s: the uid is set when the dashboard is sent (cosagent)", f)
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				out[f] = append(out[f], grafana.Replace(tg.Expr))
			}
		}
	}
	return out
}

var metricName = regexp.MustCompile(`\bgithub_runner_[a-z_]+\b`)

// usedMetrics are the charm's metrics an expression names, histogram
// series reduced to their histogram.
func usedMetrics(t *testing.T, expr string) []string {
	t.Helper()
	_, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	require.NoError(t, err, expr)
	var out []string
	for _, name := range metricName.FindAllString(expr, -1) {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && metrics.IsHistogram(base) {
				name = base
			}
		}
		out = append(out, name)
	}
	return out
}

func TestQueriesNameOnlyDefinedMetrics(t *testing.T) {
	defined := metrics.Names()
	shown := map[string]bool{}
	for f, exprs := range dashboardExprs(t) {
		require.NotEmpty(t, exprs, f)
		for _, e := range exprs {
			for _, name := range usedMetrics(t, e) {
				require.Contains(t, defined, name, "%s: %s", f, e)
				shown[name] = true
			}
		}
	}
	for _, r := range alertRules(t) {
		for _, name := range usedMetrics(t, r.Expr) {
			require.Contains(t, defined, name, "alert %s", r.Alert)
		}
	}
	for _, name := range defined {
		if name == metrics.StateUpdated || name == metrics.ReconcileInterval || name == metrics.ImageRebuildInterval {
			continue // bookkeeping the alerts use, not worth a panel
		}
		require.True(t, shown[name], "metric %s is on no dashboard", name)
	}
}
