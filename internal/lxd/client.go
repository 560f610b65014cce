package lxd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"time"
)

// Options configures a [Client].
type Options struct {
	// Socket is the daemon's unix socket. Empty means discover it with
	// [FindSocket] (LXD_SOCKET, LXD_DIR, then the snap and Debian paths).
	Socket string

	// Project is the LXD project every request is scoped to (sent as
	// ?project=). Empty means the daemon's default project.
	Project string

	// HTTPClient, when set, carries every request instead of a client dialing
	// Socket; its transport decides where requests go (their URLs use the
	// host "lxd"). Socket discovery is then skipped and Socket is only what
	// [Client.Socket] reports. Its Timeout must be zero: deadlines come from
	// each call's context, and an overall timeout would cut operation waits
	// and the event stream.
	HTTPClient *http.Client

	// Logger receives debug records of each request (method, path, status,
	// duration; never bodies or headers). Nil discards them.
	Logger *slog.Logger
}

// Client talks to one LXD daemon. It is safe for concurrent use and holds no
// context: every method doing I/O takes one.
type Client struct {
	socket  string
	project string
	http    *http.Client
	log     *slog.Logger
}

// New returns a client for the daemon described by opts. It checks that the
// socket exists but does not contact the daemon; see [Connect] for that.
func New(opts Options) (*Client, error) {
	c := &Client{project: opts.Project, log: opts.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient != nil {
		if opts.HTTPClient.Timeout != 0 {
			return nil, errors.New("cannot use an http.Client with an overall Timeout for LXD: bound calls with their context instead")
		}
		c.socket = opts.Socket
		c.http = opts.HTTPClient
		return c, nil
	}
	sock, err := FindSocket(opts.Socket, os.Getenv, os.Stat)
	if err != nil {
		return nil, err
	}
	c.socket = sock
	c.http = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: 10 * time.Second}
			return d.DialContext(ctx, "unix", sock)
		},
		// No ResponseHeaderTimeout: an operation wait answers only when the
		// operation ends. The caller's context bounds every request.
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
	return c, nil
}

// Connect returns a client like [New] and checks that the daemon answers and
// supports what this package needs (LXD 4.0 or later: the API extensions
// instances, container_exec_recording, container_exec_user_group_cwd and
// event_lifecycle). A daemon lacking one fails with an error wrapping
// errors.ErrUnsupported.
func Connect(ctx context.Context, opts Options) (*Client, error) {
	c, err := New(opts)
	if err != nil {
		return nil, err
	}
	srv, err := c.GetServer(ctx)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, ext := range []string{"instances", "container_exec_recording", "container_exec_user_group_cwd", "event_lifecycle"} {
		if !slices.Contains(srv.APIExtensions, ext) {
			missing = append(missing, ext)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("cannot use LXD %s at %s: API extensions %v missing: %w",
			srv.Environment.ServerVersion, c.socket, missing, errors.ErrUnsupported)
	}
	return c, nil
}

// Socket returns the unix socket the client talks to (empty when an
// HTTPClient was given without a Socket).
func (c *Client) Socket() string { return c.socket }

// drain reads what is left of a body (bounded) so the connection can be
// reused, and closes it.
func drain(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 64<<10)
	_ = body.Close()
}
