package hooks

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"charm.example/github-runner/internal/config"
	"charm.example/github-runner/internal/cosagent"
	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/metrics"
	"charm.example/github-runner/internal/pool"
	"charm.example/github-runner/internal/runners"
)

// This file is what makes the unit observable: the metrics every event
// records, the cos-agent relation's data, the metrics port, and the dead
// runners' logs named in check-runners' result.

// CosAgentEndpoint is the charm's cos-agent relation endpoint
// (metadata.yaml, interface cos_agent).
const CosAgentEndpoint = "cos-agent"

// metricsFlushTimeout bounds the fold of an event's metrics into the state
// file.
const metricsFlushTimeout = 10 * time.Second

// observer is what the cos-agent relation and the metrics port need of
// Juju; *juju.Client is one.
type observer interface {
	RelationIDs(ctx context.Context, endpoint string) ([]string, error)
	RelationGet(ctx context.Context, opts juju.RelationGetOptions) (map[string]string, error)
	RelationSet(ctx context.Context, opts juju.RelationSetOptions, values map[string]string) error
	UnitAddress(ctx context.Context) (string, error)
	OpenPort(ctx context.Context, port int) error
	ClosePort(ctx context.Context, port int) error
	OpenedPorts(ctx context.Context) ([]string, error)
}

// recorded gives every handler of h a metrics.Recorder over the unit's
// state folder (ev.Metrics) and flushes it when the handler returns, so
// that what the event did reaches the metrics served by the watcher. The
// remove hook records nothing: it deletes the state folder.
func (c *Charm) recorded(h Handlers) Handlers {
	wrap := func(table map[string]Handler, skip ...string) {
		for name, handler := range table {
			if contains(skip, name) {
				continue
			}
			table[name] = func(ctx context.Context, ev Event) error {
				rec, err := metrics.NewRecorder(metrics.RecorderOptions{Dir: StateDirFor(ev.Juju.Env().CharmDir)})
				if err != nil {
					ev.Log.Warn("cannot record metrics", "err", err)
					return handler(ctx, ev)
				}
				ev.Metrics = rec
				herr := handler(ctx, ev)
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), metricsFlushTimeout)
				defer cancel()
				if err := rec.Flush(fctx); err != nil {
					ev.Log.Warn("cannot record metrics", "err", err)
				}
				return herr
			}
		}
	}
	wrap(h.Hooks, "remove")
	wrap(h.Actions)
	wrap(h.Events)
	return h
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// cosAgentChanged writes the unit's cos-agent data into the relation.
func (c *Charm) cosAgentChanged(ctx context.Context, ev Event) error {
	return c.refreshObservability(ctx, ev)
}

// refreshObservability writes the unit's cos-agent data (scrape job,
// alert rules, dashboards) into each cos-agent relation where it changed,
// and opens the metrics port (closing one no longer used). It needs only
// a valid metrics-port: the rest of the configuration may be blocked.
func (c *Charm) refreshObservability(ctx context.Context, ev Event) error {
	raw, err := ev.Juju.Config(ctx)
	if err != nil {
		return fmt.Errorf("cannot read the configuration: %w", err)
	}
	s := pool.Decode(raw)
	if config.HasProblem(s.Validate(), "metrics-port") {
		return nil // Blocked by the converge that follows
	}
	if err := c.ensureMetricsPort(ctx, ev, s.MetricsPort); err != nil {
		return err
	}
	ids, err := ev.Juju.RelationIDs(ctx, CosAgentEndpoint)
	if err != nil || len(ids) == 0 {
		return err
	}
	bag, err := cosAgentData(ev.Juju.Env(), s.MetricsPort)
	if err != nil {
		return err
	}
	env := ev.Juju.Env()
	for _, id := range ids {
		have, err := ev.Juju.RelationGet(ctx, juju.RelationGetOptions{RelationID: id, Owner: env.UnitName})
		if err != nil {
			return fmt.Errorf("cannot read the cos-agent relation %s: %w", id, err)
		}
		if have[cosagent.Key] == bag[cosagent.Key] {
			continue
		}
		if err := ev.Juju.RelationSet(ctx, juju.RelationSetOptions{RelationID: id}, bag); err != nil {
			return fmt.Errorf("cannot write the cos-agent relation %s: %w", id, err)
		}
		ev.Log.Info("cos-agent data written", "relation", id, "metrics-port", s.MetricsPort)
	}
	return nil
}

// cosAgentData is the unit's cos_agent databag: the scrape job of the
// metrics port (none when 0), and the alert rules and dashboards packed in
// the charm.
func cosAgentData(env juju.Env, port int) (map[string]string, error) {
	name, err := charmName(env.CharmDir)
	if err != nil {
		return nil, err
	}
	opts := cosagent.Options{
		Topology: cosagent.Topology{Model: env.ModelName, ModelUUID: env.ModelUUID,
			Application: env.AppName(), Unit: env.UnitName, CharmName: name},
		CharmDir: env.CharmDir,
	}
	if port != 0 {
		opts.MetricsEndpoints = []cosagent.Endpoint{{Path: metrics.MetricsPath, Port: port}}
	}
	data, err := cosagent.Build(opts)
	if err != nil {
		return nil, fmt.Errorf("cannot build the cos-agent data: %w", err)
	}
	return data.Databag()
}

// charmName is the name in the charm's metadata.yaml.
func charmName(charmDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(charmDir, "metadata.yaml"))
	if err != nil {
		return "", fmt.Errorf("cannot read the charm's metadata: %w", err)
	}
	var meta struct {
		Name string `yaml:"name"`
	}
	if err := yaml.Unmarshal(b, &meta); err != nil || meta.Name == "" {
		return "", fmt.Errorf("cannot read the charm's name from metadata.yaml: %v", err)
	}
	return meta.Name, nil
}

// ensureMetricsPort opens port/tcp (none when 0) and closes the other TCP
// ports the unit opened: the charm opens no other.
func (c *Charm) ensureMetricsPort(ctx context.Context, ev Event, port int) error {
	opened, err := ev.Juju.OpenedPorts(ctx)
	if err != nil {
		return fmt.Errorf("cannot list the opened ports: %w", err)
	}
	has := false
	for _, p := range opened {
		n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
		if err != nil || !strings.HasSuffix(p, "/tcp") {
			continue
		}
		if n == port {
			has = true
			continue
		}
		if err := ev.Juju.ClosePort(ctx, n); err != nil {
			return fmt.Errorf("cannot close the old metrics port: %w", err)
		}
	}
	if port == 0 || has {
		return nil
	}
	if err := ev.Juju.OpenPort(ctx, port); err != nil {
		return fmt.Errorf("cannot open the metrics port: %w", err)
	}
	return nil
}

// metricsListen are the addresses the watcher serves metrics on: the
// loopback, which the cos-agent subordinate scrapes (its job names
// localhost), and the unit's address, for a Prometheus elsewhere. None
// when metrics-port is 0.
func metricsListen(ctx context.Context, ev Event, s pool.Settings) string {
	if s.MetricsPort == 0 {
		return ""
	}
	port := strconv.Itoa(s.MetricsPort)
	addrs := []string{net.JoinHostPort("127.0.0.1", port)}
	addr, err := ev.Juju.UnitAddress(ctx)
	switch {
	case err != nil:
		ev.Log.Warn("cannot read the unit's address; serving metrics on the loopback only", "err", err)
	case addr != "" && addr != "127.0.0.1":
		addrs = append(addrs, net.JoinHostPort(addr, port))
	}
	return strings.Join(addrs, ",")
}

// deadRunnerLogs is the action result naming the dead runners' logs kept
// on the unit, newest first, or nil when there are none.
func deadRunnerLogs(stateDir string) map[string]any {
	logs, err := runners.DeadRunnerLogs(stateDir)
	if err != nil || len(logs) == 0 {
		return nil
	}
	names := make([]string, 0, len(logs))
	for _, l := range logs {
		names = append(names, l.Runner)
	}
	return map[string]any{
		"dead-runner-logs":        strings.Join(names, ","),
		"dead-runner-logs-folder": filepath.Join(stateDir, runners.DeadRunnerLogsDir),
	}
}
