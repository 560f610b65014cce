// Package proxytest runs a real HTTP proxy for tests: a private tinyproxy
// (Debian's tinyproxy-bin, which scripts/lxd-up.sh installs) listening on
// 127.0.0.1 with its own config, port, pid file and access log in a folder of
// its own. The log has a line for every request with its method and URL
// (CONNECT requests name host:port), so a test can check what went through.
//
//	p := proxytest.New(t)                           // stopped when the test ends
//	profile := lxdtest.ProxyProfile(t, c, p.Port)   // instances reach it at p.URL
//	...
//	reqs := p.Requests(t)
//
// The proxy forwards to wherever a request asks; tests point it only at
// hosts this machine may reach.
package proxytest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"charm.example/github-runner/internal/lxd/lxdtest"
)

// Binary is the program run, looked up on PATH.
const Binary = "tinyproxy"

// ErrNotInstalled is returned (wrapped) by [Start] when tinyproxy is not
// installed.
var ErrNotInstalled = errors.New("tinyproxy is not installed (Debian package tinyproxy-bin)")

// Options configures [Start].
type Options struct {
	// Dir holds the config, the pid file, the access log and tinyproxy's
	// own output. It must exist; nothing else should write there.
	Dir string
}

// Server is a running tinyproxy.
type Server struct {
	// URL is the proxy's address as an HTTP proxy URL: http://127.0.0.1:PORT.
	URL string
	// Addr is 127.0.0.1:PORT.
	Addr string
	// Port is the port it listens on, as [lxdtest.LoopbackProxy] takes it.
	Port string

	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the process's exit, valid once done is closed
}

// Request is one request the proxy received, as its log has it.
type Request struct {
	// Method is the HTTP method: GET, HEAD, CONNECT...
	Method string
	// URL is the absolute URL asked for, or host:port for CONNECT.
	URL string
}

// How many free ports Start tries (another process may take the one it
// found before tinyproxy binds it), and how long it gives tinyproxy to
// start listening.
const (
	startAttempts = 5
	startTimeout  = 10 * time.Second
	stopTimeout   = 5 * time.Second
)

// Start starts a tinyproxy on a free port of 127.0.0.1, accepting clients
// from 127.0.0.1 only, and returns once it accepts connections (ctx bounds
// that wait, not the proxy's life). Stop it with [Server.Close].
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, fmt.Errorf("cannot start proxy: %w (%w)", ErrNotInstalled, err)
	}
	if opts.Dir == "" {
		return nil, errors.New("cannot start proxy: no folder given")
	}
	for attempt := 1; ; attempt++ {
		s, err := start(ctx, bin, opts.Dir)
		if err == nil || attempt == startAttempts || ctx.Err() != nil {
			return s, err
		}
	}
}

func start(ctx context.Context, bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("cannot start proxy: %w", err)
	}
	s := &Server{
		Addr: net.JoinHostPort("127.0.0.1", port),
		Port: port,
		dir:  dir,
		done: make(chan struct{}),
	}
	s.URL = "http://" + s.Addr
	if err := os.WriteFile(s.configPath(), []byte(s.config()), 0o600); err != nil {
		return nil, fmt.Errorf("cannot start proxy: %w", err)
	}
	// Every attempt starts with an empty log, so it holds only this
	// proxy's requests.
	if err := os.Remove(s.LogPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot start proxy: %w", err)
	}
	out, err := os.Create(filepath.Join(dir, "tinyproxy.out"))
	if err != nil {
		return nil, fmt.Errorf("cannot start proxy: %w", err)
	}
	defer out.Close()
	// -d: stay in the foreground, a child of this process.
	s.cmd = exec.Command(bin, "-d", "-c", s.configPath())
	s.cmd.Stdout, s.cmd.Stderr = out, out
	// Killed with the test binary, should that end without cleaning up
	// (a test timeout).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start proxy: %w", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitListening(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("cannot start proxy on %s: %w%s", s.Addr, err, s.output())
	}
	return s, nil
}

// waitListening polls the port until it accepts a connection while the
// process runs.
func (s *Server) waitListening(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", s.Addr)
		if err == nil {
			conn.Close()
			select {
			case <-s.done: // someone else's listener, and tinyproxy gave up
			default:
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("tinyproxy exited: %v", s.err)
		case <-ctx.Done():
			return fmt.Errorf("tinyproxy does not accept connections: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// config is tinyproxy's configuration: loopback only, a request line per
// request in the log (LogLevel Connect), CONNECT only to port 443.
func (s *Server) config() string {
	return fmt.Sprintf(`Port %s
Listen 127.0.0.1
Allow 127.0.0.1
Timeout 120
MaxClients 64
LogLevel Connect
LogFile %q
PidFile %q
ConnectPort 443
DisableViaHeader Yes
`, s.Port, s.LogPath(), s.PidPath())
}

// Close stops the proxy (SIGTERM, then SIGKILL after a few seconds) and
// waits for it to exit. Closing twice is fine.
func (s *Server) Close() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("cannot stop proxy %s: %w", s.Addr, err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-s.done:
		return nil
	case <-timer.C:
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("cannot stop proxy %s: %w", s.Addr, err)
	}
	<-s.done
	return nil
}

// Dir is the proxy's folder.
func (s *Server) Dir() string { return s.dir }

// LogPath is the proxy's log, written as requests arrive.
func (s *Server) LogPath() string { return filepath.Join(s.dir, "tinyproxy.log") }

// PidPath is the proxy's pid file.
func (s *Server) PidPath() string { return filepath.Join(s.dir, "tinyproxy.pid") }

func (s *Server) configPath() string { return filepath.Join(s.dir, "tinyproxy.conf") }

// AccessLog returns the proxy's whole log so far.
func (s *Server) AccessLog() ([]byte, error) {
	b, err := os.ReadFile(s.LogPath())
	if err != nil {
		return nil, fmt.Errorf("cannot read proxy log: %w", err)
	}
	return b, nil
}

// Requests returns the requests the proxy has received so far, in order,
// read from its log.
func (s *Server) Requests() ([]Request, error) {
	b, err := s.AccessLog()
	if err != nil {
		return nil, err
	}
	return ParseRequests(b), nil
}

// ParseRequests picks the requests out of a tinyproxy log, whose lines for
// them read
//
//	CONNECT   Dec 01 20:50:51.876 [14988]: Request (file descriptor 5): GET http://host/path HTTP/1.1
func ParseRequests(log []byte) []Request {
	var reqs []Request
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		_, line, ok := strings.Cut(sc.Text(), "]: Request (file descriptor ")
		if !ok {
			continue
		}
		_, line, ok = strings.Cut(line, "): ")
		if !ok {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		reqs = append(reqs, Request{Method: f[0], URL: f[1]})
	}
	return reqs
}

// output returns tinyproxy's own output and the end of its log, for an
// error message.
func (s *Server) output() string {
	var b strings.Builder
	for _, p := range []string{filepath.Join(s.dir, "tinyproxy.out"), s.LogPath()} {
		data, err := os.ReadFile(p)
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		fmt.Fprintf(&b, "\n%s:\n%s", filepath.Base(p), bytes.TrimSpace(data))
	}
	return b.String()
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("cannot find a free port: %w", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// New starts a proxy for the test in a temporary folder and stops it when
// the test ends. When tinyproxy is not installed the test fails under
// CI=true and is skipped elsewhere (scripts/lxd-up.sh installs it).
func New(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Dir: t.TempDir()})
	if errors.Is(err, ErrNotInstalled) {
		lxdtest.Unavailable(t, fmt.Sprintf("%v; install it with `make lxd-up` (as root)", err))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return s
}
