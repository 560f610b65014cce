package lxd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// maxEventSize bounds one event message.
const maxEventSize = 4 << 20

// EventListener delivers the daemon's events from [Client.GetEvents].
type EventListener struct {
	events chan Event
	done   chan struct{}

	mu  sync.Mutex
	err error
}

// Events returns the channel events arrive on, in the daemon's order. It is
// closed when the listener's context ends or the stream breaks; see
// [EventListener.Err]. A listener whose events are not read holds the stream
// back (nothing is dropped or buffered without bound).
func (l *EventListener) Events() <-chan Event { return l.events }

// Done is closed once the listener has stopped and Events is closed.
func (l *EventListener) Done() <-chan struct{} { return l.done }

// Err returns why the listener stopped: an error wrapping ctx.Err() when its
// context ended, or the stream's failure (the daemon went away...). It is
// nil while the listener runs.
func (l *EventListener) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// GetEvents subscribes to the daemon's event stream (/1.0/events, a
// websocket) for the given event types (none: every type) of the client's
// project, and delivers events until ctx ends. The subscription is in place
// when GetEvents returns, so events caused after that are not missed.
//
// A listener stops for good when the stream breaks; to follow events across
// daemon restarts, subscribe again (and re-read the state you care about, as
// events in between are lost).
func (c *Client) GetEvents(ctx context.Context, types ...EventType) (*EventListener, error) {
	q := url.Values{}
	if len(types) > 0 {
		names := make([]string, len(types))
		for i, t := range types {
			names[i] = string(t)
		}
		q.Set("type", strings.Join(names, ","))
	}
	u := strings.Replace(c.url("/1.0/events", q), "http://", "ws://", 1)
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.http})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("cannot subscribe to lxd events: %w", ctx.Err())
		}
		if resp != nil && resp.StatusCode >= 400 {
			return nil, fmt.Errorf("cannot subscribe to lxd events: %w", &StatusError{Code: resp.StatusCode, Msg: err.Error()})
		}
		return nil, fmt.Errorf("cannot subscribe to lxd events: %w", err)
	}
	conn.SetReadLimit(maxEventSize)
	c.log.Debug("lxd events subscribed", "types", q.Get("type"))

	l := &EventListener{events: make(chan Event), done: make(chan struct{})}
	go l.run(ctx, c, conn)
	return l, nil
}

func (l *EventListener) run(ctx context.Context, c *Client, conn *websocket.Conn) {
	var err error
	defer func() {
		_ = conn.CloseNow()
		if ctx.Err() != nil {
			err = fmt.Errorf("lxd event stream ended: %w", ctx.Err())
		}
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		close(l.events)
		close(l.done)
		c.log.Debug("lxd events unsubscribed", "error", err)
	}()
	for {
		var data []byte
		_, data, err = conn.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				err = fmt.Errorf("lxd closed the event stream: %w", err)
			} else {
				err = fmt.Errorf("lxd event stream broke: %w", err)
			}
			return
		}
		var ev Event
		if jerr := json.Unmarshal(data, &ev); jerr != nil {
			c.log.Warn("cannot decode lxd event", "error", jerr)
			continue
		}
		select {
		case l.events <- ev:
		case <-ctx.Done():
			return
		}
	}
}
