// Package cosagent is the provider side of Juju's cos_agent interface, as
// the Python cos_agent charm library (charms.grafana_agent.v0.cos_agent,
// LIBPATCH 23, with cos-lib) writes it: a principal charm puts one key,
// "config", in its unit databag of the cos-agent relation, and the
// grafana-agent or opentelemetry-collector subordinate on its machine
// scrapes the metrics endpoints it names and forwards its alert rules and
// dashboards to Prometheus, Loki and Grafana.
//
// The value of "config" is the JSON of CosAgentProviderUnitData (UnitData
// here), fields in the library's order:
//
//   - metrics_alert_rules: a Prometheus rule file ({"groups": [...]}) built
//     as cos-lib's AlertRules does: every .rule/.rules/.yml/.yaml file of the
//     rules folder (official or single-rule format), group names prefixed
//     with the topology identifier and suffixed with _alerts, the juju_model,
//     juju_model_uuid, juju_application and juju_charm labels added to each
//     rule, and the topology injected as label matchers into every selector
//     of each expression (what cos-tool does, with Prometheus' own parser),
//     followed by cos-lib's generic HostHealth group;
//   - log_alert_rules: the same for Loki rules ({} when there are none);
//   - dashboards: each dashboard file as JSON with its uid set to cos-lib's
//     DashboardPath40UID (shake-256 of "<charm>-<path>", 40 hex digits) and a
//     "charm: <name>" tag, then xz-compressed (Python's lzma.compress default
//     format) and base64-encoded (LZMABase64);
//   - subordinate (always null), metrics_scrape_jobs (Prometheus
//     scrape_configs for localhost endpoints), log_slots, include_log_files,
//     tracing_protocols (null unless asked).
//
// Build makes the UnitData from the charm folder; UnitData.Databag is what
// relation-set writes. Decode reads a databag back the way the requirer's
// pydantic model validates it, for tests and diagnostics.
package cosagent
