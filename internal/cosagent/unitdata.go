package cosagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
)

// Key is the unit databag key the provider's data goes under.
const Key = "config"

// Default folders, relative to the charm folder (see internal/charmpack).
const (
	DefaultMetricsRulesDir = "cos/prometheus_alert_rules"
	DefaultLogsRulesDir    = "cos/loki_alert_rules"
	DefaultDashboardsDir   = "cos/grafana_dashboards"
)

// UnitData is CosAgentProviderUnitData, the JSON under Key; field order
// and nulls as the library's pydantic model writes them.
type UnitData struct {
	MetricsAlertRules map[string]any   `json:"metrics_alert_rules"`
	LogAlertRules     map[string]any   `json:"log_alert_rules"`
	Dashboards        []string         `json:"dashboards"`
	Subordinate       *bool            `json:"subordinate"`
	MetricsScrapeJobs []map[string]any `json:"metrics_scrape_jobs"`
	LogSlots          []string         `json:"log_slots"`
	IncludeLogFiles   []string         `json:"include_log_files"`
	TracingProtocols  []string         `json:"tracing_protocols"`
}

// Endpoint is a metrics endpoint on the unit's machine, scraped at
// localhost:<Port><Path>.
type Endpoint struct {
	Path string
	Port int
}

// Options are what COSAgentProvider takes.
type Options struct {
	// Topology is the unit's.
	Topology Topology
	// CharmDir is the charm folder the folders below are relative to.
	CharmDir string
	// MetricsRulesDir, LogsRulesDir and DashboardDirs default to
	// DefaultMetricsRulesDir, DefaultLogsRulesDir and DefaultDashboardsDir.
	// A folder that does not exist contributes nothing.
	MetricsRulesDir, LogsRulesDir string
	DashboardDirs                 []string
	// MetricsEndpoints are scraped on localhost.
	MetricsEndpoints []Endpoint
	// ScrapeConfigs are full Prometheus scrape_configs, before the endpoints.
	ScrapeConfigs []map[string]any
	// LogSlots are snap slots ("snap:slot") to read logs from.
	LogSlots []string
	// IncludeLogFiles are log file globs to forward.
	IncludeLogFiles []string
	// TracingProtocols are receivers asked for (otlp_http, otlp_grpc, ...); nil asks none.
	TracingProtocols []string
}

// Build makes the provider's unit data from the charm folder.
func Build(opts Options) (UnitData, error) {
	if err := opts.Topology.Validate(); err != nil {
		return UnitData{}, err
	}
	if opts.CharmDir == "" || !filepath.IsAbs(opts.CharmDir) {
		return UnitData{}, fmt.Errorf("charm folder %q is not an absolute path", opts.CharmDir)
	}
	rulesDir := cmpOr(opts.MetricsRulesDir, DefaultMetricsRulesDir)
	logsDir := cmpOr(opts.LogsRulesDir, DefaultLogsRulesDir)
	dashDirs := opts.DashboardDirs
	if len(dashDirs) == 0 {
		dashDirs = []string{DefaultDashboardsDir}
	}

	groups, err := alertRules(filepath.Join(opts.CharmDir, rulesDir), opts.Topology, true)
	if err != nil {
		return UnitData{}, err
	}
	generic, err := fromDict(genericAlertGroups(), "", opts.Topology.Identifier(), opts.Topology, true)
	if err != nil {
		return UnitData{}, err
	}
	all := []any{}
	for _, g := range append(groups, generic...) {
		all = append(all, g)
	}
	logGroups, err := alertRules(filepath.Join(opts.CharmDir, logsDir), opts.Topology, false)
	if err != nil {
		return UnitData{}, err
	}
	logRules := map[string]any{}
	if len(logGroups) > 0 {
		lg := make([]any, len(logGroups))
		for i, g := range logGroups {
			lg[i] = g
		}
		logRules["groups"] = lg
	}
	dash, err := dashboards(opts.CharmDir, dashDirs, opts.Topology.CharmName)
	if err != nil {
		return UnitData{}, err
	}

	jobs := make([]map[string]any, 0, len(opts.ScrapeConfigs)+len(opts.MetricsEndpoints))
	for _, sc := range opts.ScrapeConfigs {
		jobs = append(jobs, clone(sc))
	}
	for _, ep := range opts.MetricsEndpoints {
		if ep.Port < 1 || ep.Port > 65535 {
			return UnitData{}, fmt.Errorf("invalid metrics endpoint port %d", ep.Port)
		}
		jobs = append(jobs, map[string]any{
			"metrics_path":   cmpOr(ep.Path, "/metrics"),
			"static_configs": []any{map[string]any{"targets": []any{"localhost:" + strconv.Itoa(ep.Port)}}},
		})
	}
	// Job names as the library's earlier patches made them, unique per
	// application: "<application>_<index>_<job_name or default>".
	for i, j := range jobs {
		name, _ := j["job_name"].(string)
		j["job_name"] = fmt.Sprintf("%s_%d_%s", opts.Topology.Application, i, cmpOr(name, "default"))
	}

	return UnitData{
		MetricsAlertRules: map[string]any{"groups": all},
		LogAlertRules:     logRules,
		Dashboards:        nonNil(dash),
		MetricsScrapeJobs: jobs,
		LogSlots:          nonNil(slices.Clone(opts.LogSlots)),
		IncludeLogFiles:   nonNil(slices.Clone(opts.IncludeLogFiles)),
		TracingProtocols:  slices.Clone(opts.TracingProtocols),
	}, nil
}

// Encode is the value under Key: compact JSON, no HTML escaping.
func (d UnitData) Encode() (string, error) {
	b, err := marshal(d)
	if err != nil {
		return "", fmt.Errorf("cannot encode cos-agent data: %w", err)
	}
	return string(b), nil
}

// Databag is the unit databag to write with relation-set.
func (d UnitData) Databag() (map[string]string, error) {
	v, err := d.Encode()
	if err != nil {
		return nil, err
	}
	return map[string]string{Key: v}, nil
}

// ErrInvalidData is wrapped by Decode for data the requirer would refuse.
var ErrInvalidData = errors.New("invalid cos-agent provider data")

// Decode reads a provider's unit databag as the requirer's pydantic model
// does: Key must hold JSON with metrics_alert_rules and log_alert_rules
// (objects), dashboards, log_slots (lists of strings) and
// metrics_scrape_jobs (a list of objects), none null; the optional fields
// may be null or absent; other fields are ignored.
func Decode(databag map[string]string) (UnitData, error) {
	raw, ok := databag[Key]
	if !ok || raw == "" {
		return UnitData{}, fmt.Errorf("%w: no %q key", ErrInvalidData, Key)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		return UnitData{}, fmt.Errorf("%w: %v", ErrInvalidData, err)
	}
	for _, req := range []string{"metrics_alert_rules", "log_alert_rules", "dashboards", "metrics_scrape_jobs", "log_slots"} {
		v, ok := fields[req]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return UnitData{}, fmt.Errorf("%w: %s: field required", ErrInvalidData, req)
		}
	}
	var d UnitData
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	if err := dec.Decode(&d); err != nil {
		return UnitData{}, fmt.Errorf("%w: %v", ErrInvalidData, err)
	}
	return d, nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// clone deep-copies a JSON-like map.
func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
