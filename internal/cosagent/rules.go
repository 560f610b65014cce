package cosagent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v2"
)

// ruleSuffixes are the rule file names cos-lib reads.
var ruleSuffixes = []string{".rule", ".rules", ".yml", ".yaml"}

// alreadyModified is cos-lib's test for a group name that has the topology.
var alreadyModified = regexp.MustCompile(`^.*?_[\da-f]{8}_.*?alerts$`)

var notMetricNameChar = regexp.MustCompile(`[^a-zA-Z0-9_:]`)

var topologyPlaceholder = regexp.MustCompile(`%%juju_topology%%,?`)

// RuleFileError is a rules file that cannot be used; cos-lib logs and skips
// such files, Build refuses them (the charm's own files must be right).
type RuleFileError struct {
	Path string
	Err  error
}

func (e *RuleFileError) Error() string {
	return fmt.Sprintf("invalid rules file %s: %v", e.Path, e.Err)
}
func (e *RuleFileError) Unwrap() error { return e.Err }

// ErrInvalidRuleFormat: neither the official format (groups) nor a single rule.
var ErrInvalidRuleFormat = errors.New("invalid rule format")

// alertRules reads dir as cos-lib's AlertRules.add_path(dir) for promql:
// the groups of every rule file, with topology. A missing folder has no rules.
func alertRules(dir string, topo Topology, promql bool) ([]map[string]any, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read alert rules: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		for _, s := range ruleSuffixes {
			if filepath.Ext(e.Name()) == s {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	var groups []map[string]any
	for _, name := range names {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read alert rules: %w", err)
		}
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, &RuleFileError{Path: path, Err: err}
		}
		m, _ := jsonish(doc).(map[string]any)
		if len(m) == 0 {
			return nil, &RuleFileError{Path: path, Err: errors.New("empty")}
		}
		stem := strings.TrimSuffix(name, filepath.Ext(name))
		gs, err := fromDict(m, stem, topo.Identifier(), topo, promql)
		if err != nil {
			return nil, &RuleFileError{Path: path, Err: err}
		}
		groups = append(groups, gs...)
	}
	return groups, nil
}

// fromDict is cos-lib's Rules._from_dict for alert rules.
func fromDict(doc map[string]any, groupName, prefix string, topo Topology, promql bool) ([]map[string]any, error) {
	var groups []map[string]any
	if raw, ok := doc["groups"]; ok {
		list, ok := raw.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: groups is not a list", ErrInvalidRuleFormat)
		}
		for _, g := range list {
			gm, ok := g.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%w: a group is not a map", ErrInvalidRuleFormat)
			}
			groups = append(groups, gm)
		}
	} else if _, hasAlert := doc["alert"]; hasAlert && doc["expr"] != nil {
		groups = []map[string]any{{"name": groupName, "rules": []any{doc}}}
	} else {
		return nil, ErrInvalidRuleFormat
	}
	for _, g := range groups {
		name, _ := g["name"].(string)
		if !alreadyModified.MatchString(name) {
			var parts []string
			for _, p := range []string{prefix, name, "alerts"} {
				if p != "" {
					parts = append(parts, p)
				}
			}
			name = strings.Join(parts, "_")
		}
		g["name"] = notMetricNameChar.ReplaceAllString(name, "_")
		rules, _ := g["rules"].([]any)
		for _, r := range rules {
			rule, ok := r.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%w: a rule is not a map", ErrInvalidRuleFormat)
			}
			if err := addTopology(rule, topo, promql); err != nil {
				return nil, err
			}
		}
	}
	return groups, nil
}

// addTopology adds the topology labels a rule lacks and injects the
// topology into its expression.
func addTopology(rule map[string]any, topo Topology, promql bool) error {
	lbls, _ := rule["labels"].(map[string]any)
	if lbls == nil {
		lbls = map[string]any{}
	}
	for k, v := range topo.LabelMatchers() {
		if _, ok := lbls[k]; !ok {
			lbls[k] = v
		}
	}
	rule["labels"] = lbls
	expr, ok := rule["expr"].(string)
	if !ok {
		return fmt.Errorf("%w: alert %v has no expression string", ErrInvalidRuleFormat, rule["alert"])
	}
	repl := ""
	if !promql {
		repl = `job=~".+"`
	}
	expr = topologyPlaceholder.ReplaceAllString(expr, repl)
	if promql {
		matchers := map[string]string{}
		for _, k := range alertExpressionLabels() {
			if v, ok := lbls[k].(string); ok && v != "" {
				matchers[k] = v
			}
		}
		injected, err := InjectLabelMatchers(expr, matchers)
		if err != nil {
			return fmt.Errorf("alert %v: %w", rule["alert"], err)
		}
		expr = injected
	}
	rule["expr"] = expr
	return nil
}

// InjectLabelMatchers adds an equality matcher for each label to every
// selector of a PromQL expression that does not already match on that
// label, and prints the expression back, as cos-tool's transform does.
func InjectLabelMatchers(expr string, matchers map[string]string) (string, error) {
	if len(matchers) == 0 {
		return expr, nil
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return "", fmt.Errorf("cannot parse expression %q: %w", expr, err)
	}
	keys := make([]string, 0, len(matchers))
	for k := range matchers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		for _, k := range keys {
			found := false
			for _, m := range vs.LabelMatchers {
				if m.Name == k {
					found = true
					break
				}
			}
			if !found {
				vs.LabelMatchers = append(vs.LabelMatchers, &labels.Matcher{Type: labels.MatchEqual, Name: k, Value: matchers[k]})
			}
		}
		return nil
	})
	return e.String(), nil
}

// genericAlertGroups are cos-lib's generic_alert_groups.application_rules,
// which the cos_agent library adds to every provider's rules.
func genericAlertGroups() map[string]any {
	return map[string]any{"groups": []any{map[string]any{
		"name": "HostHealth",
		"rules": []any{
			map[string]any{
				"alert":  "HostDown",
				"expr":   "up < 1",
				"for":    "5m",
				"labels": map[string]any{"severity": "critical"},
				"annotations": map[string]any{
					"summary":     "Host '{{ $labels.instance }}' is down.",
					"description": "Juju application '{{ $labels.juju_application }}' in model '{{ $labels.juju_model }}' is down. Prometheus has been unable to scrape it during at least the past five minutes.",
				},
			},
			map[string]any{
				"alert":  "HostMetricsMissing",
				"expr":   "absent(up)",
				"for":    "5m",
				"labels": map[string]any{"severity": "warning"},
				"annotations": map[string]any{
					"summary":     "Unit '{{ $labels.juju_unit }}' of application '{{ $labels.juju_application }}' is down or failing to remote write.",
					"description": "`Up` missing for unit '{{ $labels.juju_unit }}' of application {{ $labels.juju_application }} in model {{ $labels.juju_model }}. Please ensure the unit or the collector scraping it is up and is able to successfully reach the metrics backend.",
				},
			},
		},
	}}}
}

// jsonish turns YAML's maps into map[string]any, recursively.
func jsonish(v any) any {
	switch t := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonish(e)
		}
		return m
	case map[string]any:
		for k, e := range t {
			t[k] = jsonish(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = jsonish(e)
		}
		return t
	}
	return v
}
