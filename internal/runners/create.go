package runners

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"charm.example/github-runner/internal/github"
)

// Paths inside a runner instance.
const (
	runnerDir     = "/opt/actions-runner"
	startScript   = runnerDir + "/start-runner.sh"
	pidFile       = "/run/github-runner.pid"
	runnerLogFile = "/var/log/github-runner.log"
	versionFile   = runnerDir + "/.runner-version"
	// secretsFile holds the runner's secret settings (the JIT config, or
	// the registration token) for the start script, root-only, until the
	// script has read and removed it.
	secretsFile = "/run/github-runner.env"
	// runnerUID is the unprivileged user runners run as (`ubuntu`).
	runnerUID = 1000
)

// aliveCheck exits 0 when the runner's start script is still running.
var aliveCheck = []string{"sh", "-c", "read -r pid < " + pidFile + " && kill -0 \"$pid\""}

// startRunnerScript runs as root inside the instance, detached. It reads
// the runner's secret settings (the JIT config or, as a fallback, a
// registration token) from a root-only file pushed through LXD's file API,
// removes the file, and runs the runner application as the unprivileged
// user with them in its environment: never in an argv, neither inside the
// instance nor on the host (LXD 5.0 runs an exec as
// `lxd forkexec ... -- env K=V ... -- CMD`, so an exec's environment shows
// in the host's process list). When the runner ends (after its one job) it
// records the exit code and powers the instance off, and LXD deletes the
// ephemeral instance.
const startRunnerScript = `#!/bin/sh
# Started by the github-runner charm. Runs the runner once, then powers off.
cd ` + runnerDir + ` || exit 1
if [ -f ` + secretsFile + ` ]; then
	set -a
	. ` + secretsFile + `
	set +a
	rm -f ` + secretsFile + `
fi
user=$(awk -F: '$3 == ` + "1000" + ` {print $1; exit}' /etc/passwd)
if [ -n "${ACTIONS_RUNNER_INPUT_TOKEN:-}" ]; then
	su -p -s /bin/sh "$user" -c './config.sh --unattended --ephemeral --disableupdate --replace --url "$RUNNER_URL" --name "$RUNNER_NAME" --labels "$RUNNER_LABELS" --runnergroup "$RUNNER_GROUP"' || { echo "config.sh failed"; sync; poweroff -f; exit 1; }
	unset ACTIONS_RUNNER_INPUT_TOKEN
fi
su -p -s /bin/sh "$user" -c ./run.sh
rc=$?
echo "runner exited with code $rc"
echo "$rc" > /run/github-runner.exit
# Nothing of an ephemeral runner outlives it: power off at once, without
# the init system's shutdown, so LXD deletes it (and the exit watcher sees
# it go) seconds sooner.
sync
poweroff -f
`

// launchCmd starts the start script detached and records its pid before
// returning, so an alive check right after sees it.
var launchCmd = []string{"sh", "-c", "setsid " + startScript + " </dev/null >>" + runnerLogFile + " 2>&1 & echo $! > " + pidFile}

// create starts n runners in parallel and returns how many started.
func (m *Manager) create(ctx context.Context, n int, res Resources, result *Result, mu *sync.Mutex) int {
	started := 0
	binary, binErr := m.currentBinary()
	m.parallel(ctx, n, func(ctx context.Context, _ int) {
		name := m.owner.NewName()
		err := m.createOne(ctx, name, res, binary, binErr)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			result.Failures = append(result.Failures, Failure{Name: name, Err: err})
			return
		}
		started++
		result.Created = append(result.Created, name)
	})
	return started
}

// createOne starts one runner. Whatever fails, what it made is undone: the
// instance is deleted and the GitHub registration removed.
func (m *Manager) createOne(ctx context.Context, name string, res Resources, binary runnerBinary, binErr error) (err error) {
	var id int64
	launched := false
	defer func() {
		if err == nil {
			return
		}
		// Clean up with a context of its own: ctx may be what failed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if launched {
			if derr := m.cfg.Instances.DeleteInstance(cctx, name); derr != nil {
				err = errors.Join(err, fmt.Errorf("cannot clean up instance %s: %w", name, derr))
			}
		}
		if id != 0 {
			if derr := m.cfg.GitHub.DeleteRunner(cctx, id); derr != nil {
				err = errors.Join(err, fmt.Errorf("cannot clean up GitHub runner %s: %w", name, derr))
			}
		}
	}()

	env := map[string]string{}
	labels := m.runnerLabels()
	jit, err := m.cfg.GitHub.GenerateJITConfig(ctx, github.JITRequest{Name: name, Labels: labels, Group: m.cfg.Group})
	switch {
	case err == nil:
		id = jit.Runner.ID
		env["ACTIONS_RUNNER_INPUT_JITCONFIG"] = jit.EncodedConfig
	case errors.Is(err, github.ErrNotFound):
		// A server without JIT configs (older GitHub Enterprise Server):
		// fall back to a registration token for config.sh.
		tok, terr := m.cfg.GitHub.RegistrationToken(ctx)
		if terr != nil {
			return fmt.Errorf("cannot register runner %s: %w", name, terr)
		}
		env["ACTIONS_RUNNER_INPUT_TOKEN"] = tok.Value
		env["RUNNER_URL"] = m.cfg.GitHub.WebURL()
		env["RUNNER_NAME"] = name
		env["RUNNER_LABELS"] = strings.Join(labels, ",")
		env["RUNNER_GROUP"] = m.cfg.Group
	default:
		return fmt.Errorf("cannot register runner %s: %w", name, err)
	}

	config := m.owner.Keys(RoleRunner)
	config[KeyInstalledAt] = m.cfg.Now().UTC().Format(time.RFC3339Nano)
	if id != 0 {
		config[KeyGitHubID] = strconv.FormatInt(id, 10)
	}
	config["limits.cpu"] = strconv.Itoa(res.CPU)
	config["limits.memory"] = FormatSize(res.Memory)
	spec := LaunchSpec{
		Name:      name,
		Type:      m.cfg.InstanceType,
		Source:    ImageSource{Alias: m.cfg.ImageAlias},
		Ephemeral: true,
		Config:    config,
		Profiles:  append([]string{"default"}, m.cfg.Profiles...),
		Devices:   map[string]map[string]string{"root": {"type": "disk", "path": "/", "pool": m.cfg.StoragePool, "size": FormatSize(res.Disk)}},
	}
	launched = true
	if err := m.cfg.Instances.LaunchInstance(ctx, spec); err != nil {
		return fmt.Errorf("cannot launch runner %s: %w", name, err)
	}

	// The image carries the runner application; push the current one over
	// it when the image was built with another version.
	if binErr == nil {
		if err := m.ensureRunnerApp(ctx, name, binary); err != nil {
			return err
		}
	}
	if err := m.cfg.Instances.PushFile(ctx, name, startScript, strings.NewReader(startRunnerScript), 0, 0, 0o755); err != nil {
		return fmt.Errorf("cannot set up runner %s: %w", name, err)
	}
	if err := m.cfg.Instances.PushFile(ctx, name, secretsFile, strings.NewReader(envFile(env)), 0, 0, 0o600); err != nil {
		return fmt.Errorf("cannot set up runner %s: %w", name, err)
	}
	out, err := m.cfg.Instances.Exec(ctx, name, Command{Args: launchCmd})
	if err != nil {
		return fmt.Errorf("cannot start runner %s: %w", name, err)
	}
	if out.ExitCode != 0 {
		return fmt.Errorf("cannot start runner %s: exit code %d: %s", name, out.ExitCode, bytes.TrimSpace(out.Stderr))
	}
	m.log.Info("Started runner", "runner", name, "github_id", id)
	return nil
}

// runnerLabels are the labels a runner registers with: the ones every
// self-hosted runner carries (self-hosted, the OS, the architecture), which
// workflows select on and which a JIT config must list itself, then the
// configured ones.
func (m *Manager) runnerLabels() []string {
	arch := map[string]string{"amd64": "x64", "arm64": "arm64", "arm": "arm"}[runtime.GOARCH]
	labels := []string{"self-hosted", "linux"}
	if arch != "" {
		labels = append(labels, arch)
	}
	for _, l := range m.cfg.Labels {
		if !slices.ContainsFunc(labels, func(have string) bool { return strings.EqualFold(have, l) }) {
			labels = append(labels, l)
		}
	}
	return labels
}

// envFile renders settings as sh assignments, each value single-quoted.
func envFile(settings map[string]string) string {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + shellQuote(settings[k]) + "\n")
	}
	return b.String()
}

// ensureRunnerApp installs binary in the instance unless the image already
// has that version.
func (m *Manager) ensureRunnerApp(ctx context.Context, name string, binary runnerBinary) error {
	out, err := m.cfg.Instances.Exec(ctx, name, Command{Args: []string{"cat", versionFile}})
	if err == nil && out.ExitCode == 0 && strings.TrimSpace(string(out.Stdout)) == binary.Version {
		return nil
	}
	m.log.Info("Installing runner application", "runner", name, "version", binary.Version)
	if err := m.installRunnerApp(ctx, name, binary); err != nil {
		return fmt.Errorf("cannot install runner application in %s: %w", name, err)
	}
	return nil
}

// installRunnerApp pushes the tarball into an instance and unpacks it into
// the runner folder, owned by the runner user.
func (m *Manager) installRunnerApp(ctx context.Context, name string, binary runnerBinary) error {
	f, err := os.Open(binary.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	const tarball = "/tmp/actions-runner.tar.gz"
	if err := m.cfg.Instances.PushFile(ctx, name, tarball, f, 0, 0, 0o644); err != nil {
		return err
	}
	script := fmt.Sprintf("set -e; rm -rf %[1]s; mkdir -p %[1]s; tar -xzf %[2]s -C %[1]s; rm -f %[2]s; echo %[3]q > %[4]s; chown -R %[5]d:%[5]d %[1]s",
		runnerDir, tarball, binary.Version, versionFile, runnerUID)
	out, err := m.cfg.Instances.Exec(ctx, name, Command{Args: []string{"sh", "-c", script}})
	if err != nil {
		return err
	}
	if out.ExitCode != 0 {
		return fmt.Errorf("unpacking failed with exit code %d: %s", out.ExitCode, bytes.TrimSpace(out.Stderr))
	}
	return nil
}
