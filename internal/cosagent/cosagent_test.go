package cosagent_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/charmpack"
	"charm.example/github-runner/internal/cosagent"
	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/juju/jujutest"
	"charm.example/github-runner/internal/metrics"
)

var builds jujutest.Builds

func TestMain(m *testing.M) {
	os.Exit(jujutest.Main(m, jujutest.MainOptions{}, &builds))
}

var topology = cosagent.Topology{
	Model: "ci", ModelUUID: "7c2a3d3e-8f0b-4d4e-9b1a-6f5e4d3c2b1a",
	Application: "github-runner", Unit: "github-runner/0", CharmName: "github-runner",
}

// repoRoot is the module root: the charm folder's layout before packing.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	return root
}

func buildRepo(t *testing.T) cosagent.UnitData {
	t.Helper()
	d, err := cosagent.Build(cosagent.Options{
		Topology:         topology,
		CharmDir:         repoRoot(t),
		MetricsEndpoints: []cosagent.Endpoint{{Path: metrics.MetricsPath, Port: 9464}},
	})
	require.NoError(t, err)
	return d
}

// requirerView is what grafana-agent's COSAgentRequirer makes of one
// principal unit's databag: the validated model, its scrape jobs with the
// topology labels applied (metrics_jobs), its dashboards decompressed
// (dashboards) and its alert rules (metrics_alerts).
type requirerView struct {
	jobs       []map[string]any
	dashboards []map[string]any
	rules      map[string]any
}

func asRequirer(t *testing.T, databag map[string]string, unit string) requirerView {
	t.Helper()
	d, err := cosagent.Decode(databag)
	require.NoError(t, err)
	var v requirerView
	for _, job := range d.MetricsScrapeJobs {
		configs, _ := job["static_configs"].([]any)
		for _, c := range configs {
			sc := c.(map[string]any)
			lbls, _ := sc["labels"].(map[string]any)
			if lbls == nil {
				lbls = map[string]any{}
			}
			lbls["juju_model"], lbls["juju_model_uuid"] = topology.Model, topology.ModelUUID
			lbls["juju_application"], lbls["juju_unit"] = topology.Application, unit
			sc["labels"] = lbls
		}
		v.jobs = append(v.jobs, job)
	}
	for _, enc := range d.Dashboards {
		raw, err := cosagent.DecompressDashboard(enc)
		require.NoError(t, err)
		var content map[string]any
		require.NoError(t, json.Unmarshal(raw, &content))
		v.dashboards = append(v.dashboards, content)
	}
	v.rules = d.MetricsAlertRules
	return v
}

func TestBuildTheCharmsData(t *testing.T) {
	d := buildRepo(t)
	enc, err := d.Encode()
	require.NoError(t, err)

	// The pydantic model's field order and nulls.
	var keys []string
	dec := json.NewDecoder(strings.NewReader(enc))
	_, _ = dec.Token()
	for dec.More() {
		tok, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	require.Equal(t, []string{"metrics_alert_rules", "log_alert_rules", "dashboards", "subordinate",
		"metrics_scrape_jobs", "log_slots", "include_log_files", "tracing_protocols"}, keys)
	require.Contains(t, enc, `"log_alert_rules":{}`)
	require.Contains(t, enc, `"subordinate":null`)
	require.Contains(t, enc, `"log_slots":[],"include_log_files":[],"tracing_protocols":null}`)
	require.NotContains(t, enc, `\u003e`, "no HTML escaping: > stays >, as Python writes it")

	v := asRequirer(t, map[string]string{cosagent.Key: enc}, "github-runner/0")
	require.Equal(t, []map[string]any{{
		"job_name":     "github-runner_0_default",
		"metrics_path": "/metrics",
		"static_configs": []any{map[string]any{
			"targets": []any{"localhost:9464"},
			"labels": map[string]any{"juju_model": "ci", "juju_model_uuid": topology.ModelUUID,
				"juju_application": "github-runner", "juju_unit": "github-runner/0"},
		}},
	}}, v.jobs)

	require.Len(t, v.dashboards, 1)
	dash := v.dashboards[0]
	require.Equal(t, "GitHub runners", dash["title"])
	// shake_256(b"github-runner-cos/grafana_dashboards/github-runner.json").hexdigest(20)
	require.Equal(t, "32be9d7fc8ee6af1dfa041856369d517080c4832", dash["uid"])
	require.Equal(t, cosagent.DashboardUID("github-runner", charmpack.DashboardsDir+"/github-runner.json"), dash["uid"])
	require.Equal(t, []any{"github-runner", "charm: github-runner"}, dash["tags"])
	require.NotEmpty(t, dash["panels"])

	groups := v.rules["groups"].([]any)
	var names, alerts []string
	for _, g := range groups {
		gm := g.(map[string]any)
		names = append(names, gm["name"].(string))
		for _, r := range gm["rules"].([]any) {
			rule := r.(map[string]any)
			alerts = append(alerts, rule["alert"].(string))
			lbls := rule["labels"].(map[string]any)
			for k, want := range map[string]string{"juju_model": "ci", "juju_model_uuid": topology.ModelUUID,
				"juju_application": "github-runner", "juju_charm": "github-runner"} {
				require.Equal(t, want, lbls[k], "%s %s", rule["alert"], k)
			}
			require.NotEmpty(t, lbls["severity"])
			requireEverySelectorFiltered(t, rule["expr"].(string))
		}
	}
	require.Equal(t, []string{"ci_7c2a3d3e_github_runner_github_runner_alerts", "ci_7c2a3d3e_github_runner_HostHealth_alerts"}, names)
	require.Equal(t, []string{"GitHubRunnerNoIdleRunner", "GitHubRunnerCreationFailing", "GitHubRunnerRateLimitNearlySpent",
		"GitHubRunnerImageTooOld", "GitHubRunnerNotReconciling", "HostDown", "HostMetricsMissing"}, alerts)
}

// requireEverySelectorFiltered checks that each selector of expr matches
// this application's topology.
func requireEverySelectorFiltered(t *testing.T, expr string) {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	require.NoError(t, err, expr)
	n := 0
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		n++
		got := map[string]string{}
		for _, m := range vs.LabelMatchers {
			got[m.Name] = m.Value
		}
		require.Equal(t, "ci", got["juju_model"], expr)
		require.Equal(t, topology.ModelUUID, got["juju_model_uuid"], expr)
		require.Equal(t, "github-runner", got["juju_application"], expr)
		return nil
	})
	require.Positive(t, n, expr)
}

// TestPythonReadsTheData decodes the databag with Python's own json, lzma
// and base64, as the requirer library does (it needs python3, which Debian
// and Ubuntu machines have).
func TestPythonReadsTheData(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is not installed")
		}
		t.Skip("python3 is not installed")
	}
	enc, err := buildRepo(t).Encode()
	require.NoError(t, err)
	script := `
import base64, json, lzma, sys
data = json.loads(sys.stdin.read())
for key, kind in [("metrics_alert_rules", dict), ("log_alert_rules", dict), ("dashboards", list),
                  ("metrics_scrape_jobs", list), ("log_slots", list)]:
    assert isinstance(data[key], kind), key
for d in data["dashboards"]:
    content = json.loads(lzma.decompress(base64.b64decode(d.encode("utf-8"))).decode())
    print(content["uid"], content.get("title", "no_title"))
print(len(data["metrics_alert_rules"]["groups"]))
`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", script)
	cmd.Stdin = strings.NewReader(enc)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "32be9d7fc8ee6af1dfa041856369d517080c4832 GitHub runners\n2\n", string(out))
}

func TestInjectLabelMatchers(t *testing.T) {
	m := map[string]string{"juju_model": "ci", "juju_application": "app"}
	for _, tc := range []struct{ in, want string }{
		{`up < 1`, `up{juju_application="app",juju_model="ci"} < 1`},
		{`absent(up)`, `absent(up{juju_application="app",juju_model="ci"})`},
		{`rate(x_total{a="b"}[5m]) > 0`, `rate(x_total{a="b",juju_application="app",juju_model="ci"}[5m]) > 0`},
		{`x{juju_model="other"}`, `x{juju_application="app",juju_model="other"}`},
		{`sum without (s) (a{s="i"}) == 0 and b > 0`,
			`sum without (s) (a{juju_application="app",juju_model="ci",s="i"}) == 0 and b{juju_application="app",juju_model="ci"} > 0`},
		{`max_over_time(x[1h:5m])`, `max_over_time(x{juju_application="app",juju_model="ci"}[1h:5m])`},
		{`time() - 3`, `time() - 3`},
	} {
		got, err := cosagent.InjectLabelMatchers(tc.in, m)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	_, err := cosagent.InjectLabelMatchers(`sum(`, m)
	require.ErrorContains(t, err, "cannot parse expression")
	same, err := cosagent.InjectLabelMatchers(`anything at all(`, nil)
	require.NoError(t, err)
	require.Equal(t, `anything at all(`, same)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestRuleFormatsAsCosLibReadsThem(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules/single.rule"), "alert: One\nexpr: x > 1\nlabels:\n  juju_model: kept\n")
	writeFile(t, filepath.Join(dir, "rules/official.yaml"), "groups:\n- name: ci_7c2a3d3e_done_alerts\n  rules:\n  - alert: Two\n    expr: y_total\n")
	writeFile(t, filepath.Join(dir, "rules/ignored.txt"), "not a rule file")
	writeFile(t, filepath.Join(dir, "loki/logs.rules"), "groups:\n- name: logs\n  rules:\n  - alert: Errors\n    expr: 'count_over_time({%%juju_topology%%} |= \"error\" [5m]) > 0'\n")
	writeFile(t, filepath.Join(dir, "dash/b.json"), `{"title": "B", "uid": "old", "tags": ["charm: mine"], "x": {"y": [1, 2]}}`)
	writeFile(t, filepath.Join(dir, "dash/a.json"), `{"title": "A <&>"}`)
	d, err := cosagent.Build(cosagent.Options{
		Topology: topology, CharmDir: dir,
		MetricsRulesDir: "rules", LogsRulesDir: "loki", DashboardDirs: []string{"dash"},
		ScrapeConfigs:    []map[string]any{{"job_name": "custom", "static_configs": []any{map[string]any{"targets": []any{"localhost:1"}}}}},
		LogSlots:         []string{"snap:logs"},
		TracingProtocols: []string{"otlp_http"},
	})
	require.NoError(t, err)
	enc, err := d.Encode()
	require.NoError(t, err)
	got, err := cosagent.Decode(map[string]string{cosagent.Key: enc})
	require.NoError(t, err)

	groups := got.MetricsAlertRules["groups"].([]any)
	require.Len(t, groups, 3)
	official := groups[0].(map[string]any) // files in name order: official.yaml, single.rule
	require.Equal(t, "ci_7c2a3d3e_done_alerts", official["name"], "an already prefixed name is kept")
	single := groups[1].(map[string]any)
	require.Equal(t, "ci_7c2a3d3e_github_runner_single_alerts", single["name"])
	rule := single["rules"].([]any)[0].(map[string]any)
	require.Equal(t, "kept", rule["labels"].(map[string]any)["juju_model"], "a label already set is kept")
	require.Equal(t, `x{juju_application="github-runner",juju_model="kept",juju_model_uuid="7c2a3d3e-8f0b-4d4e-9b1a-6f5e4d3c2b1a"} > 1`, rule["expr"])

	logRule := got.LogAlertRules["groups"].([]any)[0].(map[string]any)["rules"].([]any)[0].(map[string]any)
	require.Equal(t, `count_over_time({job=~".+"} |= "error" [5m]) > 0`, logRule["expr"], "logql keeps its placeholder's job matcher")

	require.Len(t, got.Dashboards, 2)
	var titles []string
	for _, enc := range got.Dashboards {
		raw, err := cosagent.DecompressDashboard(enc)
		require.NoError(t, err)
		var c map[string]any
		require.NoError(t, json.Unmarshal(raw, &c))
		titles = append(titles, c["title"].(string))
		if c["title"] == "B" {
			require.Equal(t, cosagent.DashboardUID("github-runner", "dash/b.json"), c["uid"])
			require.Equal(t, []any{"charm: mine"}, c["tags"], "an existing charm tag is kept")
			require.True(t, strings.HasPrefix(string(raw), `{"title": "B", "uid": "`), "key order kept: %s", raw)
		}
	}
	require.Equal(t, []string{"A <&>", "B"}, titles)
	require.Equal(t, "github-runner_0_custom", got.MetricsScrapeJobs[0]["job_name"])
	require.Equal(t, []string{"snap:logs"}, got.LogSlots)
	require.Equal(t, []string{"otlp_http"}, got.TracingProtocols)

	writeFile(t, filepath.Join(dir, "rules/broken.yml"), "just: a map\n")
	_, err = cosagent.Build(cosagent.Options{Topology: topology, CharmDir: dir, MetricsRulesDir: "rules"})
	var rfe *cosagent.RuleFileError
	require.ErrorAs(t, err, &rfe)
	require.ErrorIs(t, err, cosagent.ErrInvalidRuleFormat)
}

func TestDecodeRefusesWhatTheRequirerRefuses(t *testing.T) {
	good := `{"metrics_alert_rules":{},"log_alert_rules":{},"dashboards":[],"metrics_scrape_jobs":[],"log_slots":[],"extra":1}`
	_, err := cosagent.Decode(map[string]string{"config": good})
	require.NoError(t, err, "extra fields are ignored")
	for _, bad := range []map[string]string{
		{},
		{"config": "not json"},
		{"config": `{"metrics_alert_rules":{},"log_alert_rules":{},"dashboards":[],"metrics_scrape_jobs":[]}`},
		{"config": `{"metrics_alert_rules":null,"log_alert_rules":{},"dashboards":[],"metrics_scrape_jobs":[],"log_slots":[]}`},
		{"config": `{"metrics_alert_rules":{},"log_alert_rules":{},"dashboards":[1],"metrics_scrape_jobs":[],"log_slots":[]}`},
	} {
		_, err := cosagent.Decode(bad)
		require.ErrorIs(t, err, cosagent.ErrInvalidData, "%v", bad)
	}
}

func TestBuildRefusesBadOptions(t *testing.T) {
	_, err := cosagent.Build(cosagent.Options{Topology: cosagent.Topology{Model: "m", ModelUUID: "nope", Application: "a", CharmName: "c"}, CharmDir: "/"})
	require.ErrorContains(t, err, "'nope' is not a valid UUID")
	_, err = cosagent.Build(cosagent.Options{Topology: topology, CharmDir: "relative"})
	require.ErrorContains(t, err, "not an absolute path")
	_, err = cosagent.Build(cosagent.Options{Topology: topology, CharmDir: "/nonexistent", MetricsEndpoints: []cosagent.Endpoint{{Port: 0}}})
	require.ErrorContains(t, err, "invalid metrics endpoint port 0")
}

// TestThroughTheRelation: the unit writes its data in a cos-agent hook with
// the hook tool client, and the controller's copy of its databag reads
// back, as the subordinate sees it, into the same data.
func TestThroughTheRelation(t *testing.T) {
	s := jujutest.Start(t, jujutest.Options{CharmDir: "testdata/charm", Tools: builds.Tools, Unit: "github-runner/3"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id, err := s.Relate(ctx, jujutest.RelationOptions{Endpoint: "cos-agent", RemoteApp: "grafana-agent"})
	require.NoError(t, err)
	want := buildRepo(t)
	_, err = s.InRelationContext(ctx, jujutest.RelationHook{RelationID: id, Kind: jujutest.RelationJoined, RemoteUnit: "grafana-agent/0"},
		func(env []string) error {
			c := juju.NewClient(juju.ExecRunner{Env: env}, juju.ParseEnv(env))
			bag, err := want.Databag()
			if err != nil {
				return err
			}
			return c.RelationSet(ctx, juju.RelationSetOptions{}, bag)
		})
	require.NoError(t, err)
	rel, err := s.Relation(id)
	require.NoError(t, err)
	got, err := cosagent.Decode(rel.Unit)
	require.NoError(t, err)
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	require.JSONEq(t, string(wantJSON), string(gotJSON))
	require.True(t, slices.Contains(mapsKeys(rel.Unit), cosagent.Key))
	v := asRequirer(t, rel.Unit, "github-runner/3")
	require.Equal(t, "github-runner/3", v.jobs[0]["static_configs"].([]any)[0].(map[string]any)["labels"].(map[string]any)["juju_unit"])
}

func mapsKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
