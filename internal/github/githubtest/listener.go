package githubtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// JITConfigInfo is what an encoded JIT configuration from this simulator
// holds, less the runner's secret.
type JITConfigInfo struct {
	RunnerID   int64
	RunnerName string
	// RunnerURL is the runner service the runner connects to.
	RunnerURL string
	// GitHubURL is the scope's web URL.
	GitHubURL  string
	WorkFolder string
	Ephemeral  bool
}

func decodeJIT(encoded string) (jitConfig, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return jitConfig{}, fmt.Errorf("invalid JIT configuration: %w", err)
	}
	var cfg jitConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return jitConfig{}, fmt.Errorf("invalid JIT configuration: %w", err)
	}
	if cfg.RunnerID == 0 || cfg.Secret == "" || cfg.RunnerURL == "" {
		return jitConfig{}, errors.New("invalid JIT configuration: runner id, secret or runner URL missing")
	}
	return cfg, nil
}

// ParseJITConfig decodes an encoded JIT configuration this simulator made.
func ParseJITConfig(encoded string) (JITConfigInfo, error) {
	cfg, err := decodeJIT(encoded)
	if err != nil {
		return JITConfigInfo{}, err
	}
	return JITConfigInfo{
		RunnerID: cfg.RunnerID, RunnerName: cfg.RunnerName, RunnerURL: cfg.RunnerURL,
		GitHubURL: cfg.GitHubURL, WorkFolder: cfg.WorkFolder, Ephemeral: cfg.Ephemeral,
	}, nil
}

// Listener exit codes, as the runner application's.
const (
	ExitDone      = 0 // an ephemeral runner's job is done, or stopped on request
	ExitFatal     = 1 // bad configuration, or the registration is gone
	ExitRetryable = 2 // the runner service stayed unreachable
	ExitConflict  = 5 // another listener holds the runner's session
	// ExitUpdating and ExitUpdatingEphemeral: the listener left to update
	// itself (run-helper.sh relaunches it once update.finished appears).
	ExitUpdating          = 3
	ExitUpdatingEphemeral = 4
)

// ListenerOptions configures RunListener.
type ListenerOptions struct {
	// JITConfig is an encoded JIT configuration from the simulator.
	JITConfig string
	// HTTPClient carries the calls; nil means a default client.
	HTTPClient *http.Client
	// MaxFailures is how many transport failures in a row end the listener
	// with ExitRetryable (default 30), RetryInterval the pause after each
	// (default 1 s).
	MaxFailures   int
	RetryInterval time.Duration
	// Arch is the architecture label the listener reports: "X64" (the
	// default), "ARM64" or "ARM". It always reports the OS as Linux.
	Arch string
	// OnConnected, if set, is called once the listener holds a session.
	OnConnected func()
}

// RunListener is an in-process stand-in runner: it speaks the runner-service
// protocol exactly as the stand-in Runner.Listener script does, for tests
// that need runners online without a machine. It returns the exit code the
// script would have (ExitDone after an ephemeral runner's one job, or when
// ctx ends - it then closes its session, taking the runner offline at once)
// and, for other codes, an error saying why.
func RunListener(ctx context.Context, opts ListenerOptions) (int, error) {
	cfg, err := decodeJIT(opts.JITConfig)
	if err != nil {
		return ExitFatal, err
	}
	l := &listener{cfg: cfg, client: opts.HTTPClient, maxFailures: opts.MaxFailures, retry: opts.RetryInterval, arch: opts.Arch}
	if l.arch == "" {
		l.arch = "X64"
	}
	if l.client == nil {
		l.client = &http.Client{}
	}
	if l.maxFailures <= 0 {
		l.maxFailures = 30
	}
	if l.retry <= 0 {
		l.retry = time.Second
	}
	return l.run(ctx, opts.OnConnected)
}

type listener struct {
	cfg         jitConfig
	arch        string
	client      *http.Client
	maxFailures int
	retry       time.Duration
	session     string
	pollTimeout time.Duration
	failures    int
}

// errStopped says ctx ended.
var errStopped = errors.New("stopped")

type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func (l *listener) run(ctx context.Context, onConnected func()) (code int, err error) {
	defer func() {
		if errors.Is(err, errStopped) {
			l.close()
			code, err = ExitDone, nil
		}
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
			if code == ExitDone {
				err = nil
			}
		}
	}()
	l.pollTimeout = 10 * time.Second
	for {
		if ctx.Err() != nil {
			return ExitDone, errStopped
		}
		if l.session == "" {
			// Connecting runs to its end even when ctx ends, so that a
			// session the service opened is known, and closed.
			ans, err := l.call(context.WithoutCancel(ctx), "sessions", kv{"runner_id": strconv.FormatInt(l.cfg.RunnerID, 10), "secret": l.cfg.Secret,
				"os": "Linux", "arch": l.arch, "version": "go-listener"})
			if err != nil {
				if err := l.failed(ctx, err); err != nil {
					return 0, err
				}
				continue
			}
			switch ans["status"] {
			case "ok":
				l.session = ans["session_id"]
				if secs, err := strconv.Atoi(ans["poll_timeout"]); err == nil && secs > 0 {
					l.pollTimeout = time.Duration(secs) * time.Second
				}
				if onConnected != nil {
					onConnected()
					onConnected = nil
				}
			case "gone":
				return 0, &exitError{ExitFatal, "the runner registration has been deleted from the server"}
			case "conflict":
				return 0, &exitError{ExitConflict, "a session for this runner already exists"}
			default:
				return 0, &exitError{ExitFatal, "cannot connect: " + ans["status"] + " " + ans["message"]}
			}
		}
		ans, err := l.call(ctx, "poll", kv{"session_id": l.session})
		if err != nil {
			if err := l.failed(ctx, err); err != nil {
				return 0, err
			}
			continue
		}
		switch ans["status"] {
		case "job":
			id, _ := strconv.ParseInt(ans["job_id"], 10, 64)
			if err := l.runJob(ctx, id); err != nil {
				return 0, err
			}
		case "expired":
			l.session = ""
		case "gone":
			return 0, &exitError{ExitFatal, "the runner registration has been deleted from the server"}
		case "exit":
			code, _ := strconv.Atoi(ans["code"])
			return 0, &exitError{code, "the runner service ended the session"}
		case "update":
			// This listener has no files to replace: it leaves as the real
			// one does for an update, and its caller decides what next.
			l.call(ctx, "close", kv{"session_id": l.session})
			code := ExitUpdating
			if l.cfg.Ephemeral {
				code = ExitUpdatingEphemeral
			}
			return 0, &exitError{code, "the runner service offered an update"}
		}
	}
}

func (l *listener) runJob(ctx context.Context, id int64) error {
	job := strconv.FormatInt(id, 10)
	// Run until the service says the job is done.
	for done := false; !done; {
		ans, err := l.call(ctx, "progress", kv{"session_id": l.session, "job_id": job})
		if err != nil {
			if err := l.failed(ctx, err); err != nil {
				return err
			}
			continue
		}
		switch ans["status"] {
		case "running":
			secs, _ := strconv.ParseFloat(ans["sleep"], 64)
			if err := sleepCtx(ctx, time.Duration(secs*float64(time.Second))); err != nil {
				return err
			}
		case "done":
			done = true
		case "expired":
			l.session = ""
			return nil
		default: // cancelled
			return nil
		}
	}
	// Report it.
	for {
		ans, err := l.call(ctx, "complete", kv{"session_id": l.session, "job_id": job, "result": "succeeded"})
		if err != nil {
			if err := l.failed(ctx, err); err != nil {
				return err
			}
			continue
		}
		if ans["next"] == "exit" || l.cfg.Ephemeral {
			return &exitError{ExitDone, "done"}
		}
		return nil
	}
}

// failed counts a transport failure and pauses, or gives up.
func (l *listener) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errStopped
	}
	l.failures++
	if l.failures >= l.maxFailures {
		return &exitError{ExitRetryable, fmt.Sprintf("the runner service is unreachable: %v", err)}
	}
	return sleepCtx(ctx, l.retry)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return errStopped
	case <-t.C:
		return nil
	}
}

// close ends the session so that the runner goes offline at once.
func (l *listener) close() {
	if l.session == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.call(ctx, "close", kv{"session_id": l.session}) //nolint:errcheck // best effort
	l.session = ""
}

func (l *listener) call(ctx context.Context, name string, in kv) (kv, error) {
	ctx, cancel := context.WithTimeout(ctx, l.pollTimeout+10*time.Second)
	defer cancel()
	var body strings.Builder
	for k, v := range in {
		body.WriteString(line(k, v))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(l.cfg.RunnerURL, "/")+"/_runner/"+name,
		strings.NewReader(body.String()))
	if err != nil {
		return nil, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRequestBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("runner service answered %s", resp.Status)
	}
	l.failures = 0
	return parseKV(data), nil
}
