package schedule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"charm.example/github-runner/internal/atomicfile"
)

// Detached is the Daemon backend for machines that systemd does not run: the
// process is started in a session of its own with a pid file, and whoever
// installs it (update-status, every timer tick) starts it again if it died.
const Detached Backend = "detached"

// Daemon is a long-running process of the charm's, kept running: a systemd
// service (Restart=always) where systemd runs the machine, otherwise a
// detached process with a pid file.
type Daemon struct {
	// Name is the service and pid file base name (letters, digits, - and _).
	Name string
	// Description says what it is.
	Description string
	// Command is the program, with an absolute path, and its arguments.
	// Never put a secret in it: it shows in ps.
	Command []string
	// Env is the daemon's whole environment, as KEY=value (no secrets: it
	// shows in the unit file and /proc). PATH defaults to the usual one.
	Env []string
	// Backend is Systemd or Detached.
	Backend Backend
	// SystemdDir is where the service unit goes (Systemd).
	SystemdDir string
	// RunDir holds the pid file and the log (Detached; default /run).
	RunDir string
	// Systemctl runs systemctl (nil: the systemctl on PATH).
	Systemctl func(ctx context.Context, args ...string) error
}

func (d Daemon) validate() error {
	switch {
	case !nameRe.MatchString(d.Name):
		return fmt.Errorf("invalid daemon name %q", d.Name)
	case len(d.Command) == 0 || !filepath.IsAbs(d.Command[0]):
		return fmt.Errorf("daemon %s: the program must be an absolute path", d.Name)
	case d.Backend == Systemd && !filepath.IsAbs(d.SystemdDir):
		return fmt.Errorf("systemd folder %q is not absolute", d.SystemdDir)
	case d.Backend != Systemd && d.Backend != Detached:
		return fmt.Errorf("unknown daemon backend %q", d.Backend)
	}
	for _, a := range append(append([]string(nil), d.Command...), d.Env...) {
		if strings.ContainsAny(a, "\n\x00") {
			return fmt.Errorf("daemon %s: an argument or variable holds a newline or NUL", d.Name)
		}
	}
	for _, e := range d.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("daemon %s: environment entry %q is not KEY=value", d.Name, e)
		}
	}
	return nil
}

func (d Daemon) runDir() string {
	if d.RunDir == "" {
		return "/run"
	}
	return d.RunDir
}

// UnitPath is the systemd unit's path.
func (d Daemon) UnitPath() string { return filepath.Join(d.SystemdDir, d.Name+".service") }

// PIDPath is the detached process's pid file.
func (d Daemon) PIDPath() string { return filepath.Join(d.runDir(), d.Name+".pid") }

// LogPath is where the detached process's output goes.
func (d Daemon) LogPath() string { return filepath.Join(d.runDir(), d.Name+".log") }

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// environ is the daemon's environment, PATH included.
func (d Daemon) environ() []string {
	for _, e := range d.Env {
		if strings.HasPrefix(e, "PATH=") {
			return d.Env
		}
	}
	return append([]string{defaultPath}, d.Env...)
}

// systemdQuote quotes one ExecStart word for systemd.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	return `"` + s + `"`
}

// Unit renders the systemd service.
func (d Daemon) Unit() string {
	words := make([]string, len(d.Command))
	for i, w := range d.Command {
		words[i] = systemdQuote(w)
	}
	var env strings.Builder
	for _, e := range d.environ() {
		fmt.Fprintf(&env, "Environment=%s\n", systemdQuote(e))
	}
	return fmt.Sprintf(`# Written by the github-runner charm; rewritten on config changes.
[Unit]
Description=%s
After=network.target

[Service]
%sExecStart=%s
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
`, d.Description, env.String(), strings.Join(words, " "))
}

// Install makes sure the daemon runs with the current command, restarting
// it when the command changed. It says whether it (re)started anything.
func (d Daemon) Install(ctx context.Context) (bool, error) {
	if err := d.validate(); err != nil {
		return false, err
	}
	if d.Backend == Systemd {
		return d.installSystemd(ctx)
	}
	return d.installDetached()
}

func (d Daemon) installSystemd(ctx context.Context) (bool, error) {
	unit := d.Unit()
	old, err := os.ReadFile(d.UnitPath())
	changed := err != nil || string(old) != unit
	if changed {
		if err := atomicfile.Write(d.UnitPath(), []byte(unit), 0o644); err != nil {
			return false, fmt.Errorf("cannot write %s: %w", d.UnitPath(), err)
		}
		if err := d.systemctl(ctx, "daemon-reload"); err != nil {
			return true, err
		}
		if err := d.systemctl(ctx, "enable", d.Name+".service"); err != nil {
			return true, err
		}
		return true, d.systemctl(ctx, "restart", d.Name+".service")
	}
	if d.systemctl(ctx, "is-active", "--quiet", d.Name+".service") == nil {
		return false, nil
	}
	return true, d.systemctl(ctx, "enable", "--now", d.Name+".service")
}

func (d Daemon) installDetached() (bool, error) {
	if pid, cmdline, ok := d.recorded(); ok {
		if cmdline == d.cmdline() {
			return false, nil
		}
		// Ours, with an older command: replace it.
		d.kill(pid)
	}
	if err := os.MkdirAll(d.runDir(), 0o755); err != nil {
		return false, err
	}
	logf, err := os.OpenFile(d.LogPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return false, fmt.Errorf("cannot open %s: %w", d.LogPath(), err)
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return false, err
	}
	defer null.Close()
	cmd := exec.Command(d.Command[0], d.Command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, logf, logf
	cmd.Dir = "/"
	cmd.Env = d.environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("cannot start %s: %w", d.Name, err)
	}
	pid := cmd.Process.Pid
	// Reap it if it dies while this process still runs; once this process
	// is gone init takes over.
	go cmd.Wait()
	record := strconv.Itoa(pid) + "\n" + strings.Join(d.Command, "\n") + "\n"
	if err := atomicfile.Write(d.PIDPath(), []byte(record), 0o644); err != nil {
		d.kill(pid)
		return false, fmt.Errorf("cannot write %s: %w", d.PIDPath(), err)
	}
	return true, nil
}

// Running says whether the daemon runs.
func (d Daemon) Running(ctx context.Context) bool {
	if d.Backend == Systemd {
		return d.systemctl(ctx, "is-active", "--quiet", d.Name+".service") == nil
	}
	_, cmdline, ok := d.recorded()
	return ok && cmdline == d.cmdline()
}

// Remove stops the daemon and removes its files. Missing is fine.
func (d Daemon) Remove(ctx context.Context) error {
	var errs []error
	if d.Backend == Systemd {
		if _, err := os.Stat(d.UnitPath()); err == nil {
			if err := d.systemctl(ctx, "disable", "--now", d.Name+".service"); err != nil {
				errs = append(errs, err)
			}
			if err := os.Remove(d.UnitPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			if err := d.systemctl(ctx, "daemon-reload"); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	if pid, _, ok := d.recorded(); ok {
		d.kill(pid)
	}
	for _, p := range []string{d.PIDPath(), d.LogPath()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cmdline is the command as /proc/PID/cmdline shows it.
func (d Daemon) cmdline() string { return strings.Join(d.Command, "\x00") + "\x00" }

// recorded reads the pid file (the pid, then the command's words a line
// each) and says whether that process still runs that command: a pid
// reused by another process, or a zombie, is not the daemon.
func (d Daemon) recorded() (pid int, cmdline string, ok bool) {
	b, err := os.ReadFile(d.PIDPath())
	if err != nil {
		return 0, "", false
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0, "", false
	}
	cmdline = strings.ReplaceAll(rest, "\n", "\x00")
	live, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || string(live) != cmdline {
		return 0, "", false
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return 0, "", false
		}
	}
	return pid, cmdline, true
}

// kill stops a process: SIGTERM, then SIGKILL after a few seconds.
func (d Daemon) kill(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, ok := d.recorded(); !ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func (d Daemon) systemctl(ctx context.Context, args ...string) error {
	return Job{Systemctl: d.Systemctl}.systemctl(ctx, args...)
}
