// Package hooks is what is Juju about the charm: the routing of every
// hook, action and custom event Juju dispatches to one handler over the
// runner pool (internal/pool), the statuses and action results, the charm
// state, secrets, and the periodic jobs Juju's juju-exec dispatches.
//
// Dispatch classifies once, with pool.Classify: a problem only the operator can
// fix (a *config.Error naming the options, a *pool.BlockedError such as a machine
// without LXD, a token GitHub rejects, a path it cannot see) becomes a
// Blocked status and the hook succeeds so Juju does not retry it; a GitHub
// rate limit becomes a Waiting status saying when it lifts, and the hook
// succeeds too; any other error from a hook is a passing fault: it is
// logged and the process exits non-zero so that Juju retries. An action's
// error fails the action with action-fail and exit status 0. Handlers
// return errors and never set error statuses themselves.
package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"charm.example/github-runner/internal/juju"
	"charm.example/github-runner/internal/metrics"
	"charm.example/github-runner/internal/pool"
)

// Juju is the hook context the handlers use; *juju.Client is one.
type Juju interface {
	Env() juju.Env
	Config(ctx context.Context) (map[string]any, error)
	SecretValue(ctx context.Context, uri, key string) (string, error)
	SecretAdd(ctx context.Context, opts juju.SecretAddOptions, content map[string]string) (string, error)
	SecretSet(ctx context.Context, uri string, content map[string]string) error
	SecretRemove(ctx context.Context, uri string) error
	SetStatus(ctx context.Context, s juju.Status) error
	ActionParams(ctx context.Context) (map[string]any, error)
	ActionSet(ctx context.Context, results map[string]any) error
	ActionFail(ctx context.Context, msg string) error
	ActionLog(ctx context.Context, msg string) error
	State(ctx context.Context) (map[string]string, error)
	StateSet(ctx context.Context, values map[string]string) error
	StateDelete(ctx context.Context, key string) error
	SetApplicationVersion(ctx context.Context, version string) error
	observer
}

// Event is what a handler gets: which event, the hook context, and a logger
// writing to the unit's log.
type Event struct {
	Kind juju.EventKind
	Name string
	Juju Juju
	Log  *slog.Logger
	// Metrics records what the event did (nil: nothing is recorded).
	Metrics *metrics.Recorder
}

// Handler handles one event. It returns a *config.Error for a problem only
// the operator can fix, and any other error for a fault worth retrying.
type Handler func(ctx context.Context, ev Event) error

// Handlers route events to handlers, by name within each kind.
type Handlers struct {
	// Hooks by hook name (install, config-changed, ...). A hook without a
	// handler succeeds and does nothing.
	Hooks map[string]Handler
	// Actions by action name. An action without a handler fails.
	Actions map[string]Handler
	// Events are custom events by name, dispatched by a juju-exec command
	// (`JUJU_DISPATCH_PATH=reconcile-runners ./dispatch`). Unknown ones are
	// ignored like hooks.
	Events map[string]Handler
}

// Exit statuses of Dispatch.
const (
	ExitOK    = 0 // done, or blocked by configuration, or action failed cleanly
	ExitRetry = 1 // a hook failed: Juju retries it
	ExitUsage = 2 // not run by Juju
)

// Dispatch runs the handler for the event in j.Env().DispatchPath and
// returns the process's exit status, classifying errors as the package
// documentation says.
func Dispatch(ctx context.Context, j Juju, log *slog.Logger, h Handlers) int {
	ev := j.Env().Event()
	event := Event{Kind: ev.Kind, Name: ev.Name, Juju: j, Log: log}
	var table map[string]Handler
	switch ev.Kind {
	case juju.HookEvent:
		table = h.Hooks
	case juju.ActionEvent:
		table = h.Actions
	case juju.CustomEvent:
		table = h.Events
	default:
		log.Error("not dispatched by Juju: JUJU_DISPATCH_PATH is empty")
		return ExitUsage
	}
	handler, ok := table[ev.Name]
	if !ok {
		if ev.Kind == juju.ActionEvent {
			return failAction(ctx, j, log, fmt.Sprintf("unknown action %q", ev.Name))
		}
		log.Debug("no handler: nothing to do", "kind", ev.Kind.String(), "event", ev.Name)
		return ExitOK
	}
	log.Debug("dispatching", "kind", ev.Kind.String(), "event", ev.Name)
	err := call(ctx, handler, event)
	if err == nil {
		return ExitOK
	}

	verdict := pool.Classify(err)
	switch verdict.Kind {
	case pool.Block, pool.Wait:
		status := juju.Blocked(verdict.Message)
		if verdict.Kind == pool.Wait {
			status = juju.Waiting(verdict.Message)
			log.Warn("waiting; the next hook or timer run tries again", "event", ev.Name, "reason", verdict.Message)
		} else {
			log.Warn("blocked until the operator acts", "event", ev.Name, "reason", verdict.Message)
		}
		if serr := j.SetStatus(ctx, status); serr != nil {
			log.Error("cannot set the status", "status", string(status.Code), "err", serr)
			if ev.Kind != juju.ActionEvent {
				return ExitRetry
			}
		}
		if ev.Kind == juju.ActionEvent {
			return failAction(ctx, j, log, verdict.ActionMessage())
		}
		return ExitOK
	}
	if ev.Kind == juju.ActionEvent {
		log.Error("action failed", "action", ev.Name, "err", err)
		return failAction(ctx, j, log, err.Error())
	}
	var internal *internalError
	if periodic(ev) && !errors.As(err, &internal) {
		// A failed hook puts the unit in error, and Juju then runs no
		// other hook (config-changed, stop, remove) until it succeeds: a
		// periodic event, which runs again anyway, says what happened and
		// succeeds.
		log.Warn("passing fault; the next periodic run tries again", "event", ev.Name, "err", err)
		if serr := j.SetStatus(ctx, juju.Waiting(periodicRetryMessage)); serr != nil {
			log.Error("cannot set the status", "err", serr)
			return ExitRetry
		}
		return ExitOK
	}
	log.Error("failed; Juju will retry", "kind", ev.Kind.String(), "event", ev.Name, "err", err)
	return ExitRetry
}

// periodicRetryMessage is the Waiting status of a periodic event that met a
// passing fault.
const periodicRetryMessage = "GitHub or LXD did not answer; retrying at the next periodic run (see juju debug-log)"

// periodic says whether an event recurs by itself: update-status, and the
// custom events the timers dispatch. A passing fault in one sets a status
// instead of failing: the event runs again, and a failed hook would block
// every other until it succeeds. Events that do not recur (install,
// config-changed, start, upgrade-charm, stop, remove) fail so that Juju
// retries them.
func periodic(ev juju.Event) bool {
	return ev.Kind == juju.CustomEvent || (ev.Kind == juju.HookEvent && ev.Name == "update-status")
}

// call runs h, turning a panic into an error so it is classified like one.
func call(ctx context.Context, h Handler, ev Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			ev.Log.Error("panic", "event", ev.Name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = &internalError{fmt.Sprint(r)}
		}
	}()
	return h(ctx, ev)
}

// internalError is a handler's panic: a bug, which fails even a periodic
// event, so that the unit shows it.
type internalError struct{ panic string }

func (e *internalError) Error() string { return "internal error: " + e.panic }

func failAction(ctx context.Context, j Juju, log *slog.Logger, msg string) int {
	if err := j.ActionFail(ctx, msg); err != nil {
		log.Error("cannot fail the action", "err", err)
		return ExitRetry
	}
	return ExitOK
}
