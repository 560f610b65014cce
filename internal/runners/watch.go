package runners

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// InstanceEvent is an instance lifecycle event.
type InstanceEvent struct {
	Instance string
	// Action is LXD's lifecycle action, such as instance-deleted.
	Action string
}

// EventSource is what the watcher needs of LXD.
type EventSource interface {
	// InstanceEvents subscribes to instance lifecycle events. The channel
	// is closed when ctx ends or the stream breaks; then the returned
	// function tells why.
	InstanceEvents(ctx context.Context) (<-chan InstanceEvent, func() error, error)
}

// WatchOptions configure WatchRunnerExits.
type WatchOptions struct {
	// Events is the lifecycle event stream.
	Events EventSource
	// Trigger is called after runners of this unit exited: once per burst
	// of exits, never two at a time. Its error is logged.
	Trigger func(ctx context.Context) error
	// Debounce gathers a burst of exits into one trigger (default
	// DefaultWatchDebounce).
	Debounce time.Duration
	// Retry is the wait before subscribing again after the stream broke
	// (default 5 s).
	Retry time.Duration
	// Logger gets the watcher's lines (nil: discarded).
	Logger *slog.Logger
}

// DefaultWatchDebounce gathers exits into one trigger: an exiting runner's
// shutdown and deletion events come tens of milliseconds apart.
const DefaultWatchDebounce = 250 * time.Millisecond

// isExit says whether a lifecycle action means a runner is gone: an
// ephemeral runner powers off after its job (shutdown, stopped) and LXD
// deletes it.
func isExit(action string) bool {
	switch action {
	case "instance-shutdown", "instance-stopped", "instance-deleted":
		return true
	}
	return false
}

// WatchRunnerExits follows LXD's lifecycle events and calls Trigger as soon
// as one of owner's runners stops or is deleted, so that a runner whose job
// is done is replaced at once instead of at the next timer tick. When the
// stream breaks it subscribes again and triggers once, since exits in
// between were missed. It returns when ctx ends. It needs nothing of the
// manager (no GitHub access): its Trigger typically dispatches the charm's
// reconcile.
func WatchRunnerExits(ctx context.Context, owner Owner, opts WatchOptions) error {
	if owner.nameRe == nil {
		return errors.New("watching runner exits needs an owner made by NewOwner")
	}
	if opts.Events == nil || opts.Trigger == nil {
		return errors.New("watching runner exits needs an event source and a trigger")
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultWatchDebounce
	}
	if opts.Retry <= 0 {
		opts.Retry = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w := watcher{owner: owner, opts: opts, log: opts.Logger}
	return w.run(ctx)
}

type watcher struct {
	owner Owner
	opts  WatchOptions
	log   *slog.Logger
}

func (w watcher) run(ctx context.Context) error {
	opts := w.opts
	first := true
	for {
		events, why, err := opts.Events.InstanceEvents(ctx)
		if err == nil {
			if !first {
				// Exits during the gap were missed.
				w.trigger(ctx, "event stream resumed")
			}
			first = false
			err = w.followExits(ctx, events, why)
		}
		if ctx.Err() != nil {
			return nil
		}
		w.log.Warn("LXD event stream lost; subscribing again", "error", err, "retry", opts.Retry)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opts.Retry):
		}
	}
}

// followExits reads events until the stream ends, triggering after each
// burst of this unit's runner exits.
func (w watcher) followExits(ctx context.Context, events <-chan InstanceEvent, why func() error) error {
	opts := w.opts
	var timer *time.Timer
	var fire <-chan time.Time
	pending := ""
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				if timer != nil {
					timer.Stop()
				}
				if pending != "" && ctx.Err() == nil {
					w.trigger(ctx, "runner "+pending+" exited")
				}
				return why()
			}
			if !isExit(ev.Action) || !w.owner.OwnsUnitName(ev.Instance) {
				continue
			}
			w.log.Debug("Runner exited", "runner", ev.Instance, "action", ev.Action)
			pending = ev.Instance
			if timer == nil {
				timer = time.NewTimer(opts.Debounce)
			} else {
				timer.Reset(opts.Debounce)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			w.trigger(ctx, "runner "+pending+" exited")
			pending = ""
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return ctx.Err()
		}
	}
}

func (w watcher) trigger(ctx context.Context, why string) {
	w.log.Info("Reconciling after runner exit", "why", why)
	if err := w.opts.Trigger(ctx); err != nil {
		w.log.Warn("Reconcile after runner exit failed", "error", err)
	}
}
