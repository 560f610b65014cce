// Package juju is the charm's view of its hook context: the environment
// Juju sets for a hook or action, parsed once into an Env, and a Client over
// Juju's hook tools (config-get, status-set, juju-log, action-*, state-*,
// secret-get, relation-*, ...), all run through one Runner with a context.
//
// A tool that fails returns a *ToolError carrying its exit status and the
// `ERROR ...` line it printed; the sentinels ErrNotLeader, ErrNotAction,
// ErrPermissionDenied, ErrNotFound, ErrRelationNotFound and ErrToolNotFound
// classify the common
// cases for errors.Is. Secret values never appear in an error: arguments
// that carry values are redacted, and values are passed on standard input
// where the tool allows it.
//
// NewLogHandler adapts a Client to log/slog, writing each record with
// juju-log.
package juju
