package runners

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// This file holds what the manager puts into a runner instance (and into
// the runner image): the paths, the start script and the commands.

// Paths inside a runner instance.
const (
	runnerDir   = "/opt/actions-runner"
	startScript = runnerDir + "/start-runner.sh"
	// stateDir holds the runner's pid and exit code. Not in /run: in a
	// container whose init is systemd, LXD runs commands before systemd
	// has mounted its tmpfs over /run, which would hide what was there.
	stateDir      = "/var/lib/github-runner"
	pidFile       = stateDir + "/runner.pid"
	exitFile      = stateDir + "/runner.exit"
	runnerLogFile = "/var/log/github-runner.log"
	versionFile   = runnerDir + "/.runner-version"
	// secretsFile holds the runner's secret settings (the JIT config, or
	// the registration token) for the start script, root-only, until the
	// script has read and removed it (in root's home: see stateDir).
	secretsFile = "/root/.github-runner.env"
	// runnerUID is the unprivileged user runners run as (`ubuntu`).
	runnerUID = 1000
)

// aliveCheck exits 0 when the runner's start script is still running, and
// then prints listenedMark if the runner has been online: its log has the
// line the runner prints once connected ("Listening for Jobs",
// actions/runner src/Runner.Listener/Runner.cs).
// When it is not running it prints failedMark and the runner's last words
// if the runner could not start.
var aliveCheck = []string{"sh", "-c", "if read -r pid < " + pidFile + " && kill -0 \"$pid\"; then " +
	"! grep -q 'Listening for Jobs' " + runnerLogFile + " 2>/dev/null || echo " + listenedMark + "; exit 0; fi; " +
	"[ ! -f " + failedFile + " ] || { printf '" + failedMark + "'; tr '\\n' ' ' < " + failedFile + "; }; exit 1"}

// failedMark starts what aliveCheck prints for a runner that could not
// start; failedFile is where the start script leaves the runner's last words.
const (
	failedMark = "failed: "
	failedFile = stateDir + "/runner.failed"
)

// listenedMark is what aliveCheck prints for a runner that has been online.
const listenedMark = "listened"

// startRunnerScript runs as root inside the instance, detached. It reads
// the runner's secret settings (the JIT config or, as a fallback, a
// registration token) from a root-only file pushed through LXD's file API,
// removes the file, and runs the runner application as the unprivileged
// user with them in its environment: never in an argv, neither inside the
// instance nor on the host (LXD 5.0 runs an exec as
// `lxd forkexec ... -- env K=V ... -- CMD`, so an exec's environment shows
// in the host's process list). The runner gets its user's login
// environment (HOME, USER, LOGNAME, SHELL from the passwd entry and a
// standard PATH): the runner passes its environment on to a job's steps
// (actions/runner sets none of them for host steps), and an exec's
// HOME=/root and USER=root would break every job that writes under $HOME.
// Its own environment, which holds the JIT config, is readable only by the
// runner user and root (/proc/PID/environ is 0400). When the runner ends
// (after its one job) it
// records the exit code and powers the instance off, and LXD deletes the
// ephemeral instance.
const startRunnerScript = `#!/bin/sh
# Started by the github-runner charm. Runs the runner once, then powers off.
# Under systemd, the runner starts once the boot is over: the boot empties
# /tmp (tmpfiles.d), starts Docker, and jobs expect a system that is up.
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
	i=0
	while [ $i -lt 600 ]; do
		case "$(systemctl is-system-running 2>/dev/null)" in
		running|degraded|maintenance|stopping) break ;;
		esac
		i=$((i+1))
		sleep 0.2
	done
fi
cd ` + runnerDir + ` || exit 1
if [ -f ` + secretsFile + ` ]; then
	set -a
	. ` + secretsFile + `
	set +a
	rm -f ` + secretsFile + `
fi
entry=$(awk -F: '$3 == ` + "1000" + ` {print; exit}' /etc/passwd)
user=$(echo "$entry" | cut -d: -f1)
HOME=$(echo "$entry" | cut -d: -f6)
SHELL=$(echo "$entry" | cut -d: -f7)
[ -n "$SHELL" ] || SHELL=/bin/sh
USER=$user
LOGNAME=$user
PATH=` + runnerPath + `
export HOME SHELL USER LOGNAME PATH
if [ -n "${ACTIONS_RUNNER_INPUT_TOKEN:-}" ]; then
	su -p -s /bin/sh "$user" -c './config.sh --unattended --ephemeral --disableupdate --replace --url "$RUNNER_URL" --name "$RUNNER_NAME" --labels "$RUNNER_LABELS" --runnergroup "$RUNNER_GROUP"' || { echo "config.sh failed"; sync; poweroff -f; exit 1; }
	unset ACTIONS_RUNNER_INPUT_TOKEN
fi
su -p -s /bin/sh "$user" -c ./run.sh
rc=$?
echo "runner exited with code $rc"
echo "$rc" > ` + exitFile + `
# A runner that was never online could not start (missing libraries, a bad
# configuration): keep the instance, with what the runner said, for the
# manager to report and remove; powering off would have it replaced at
# once, in a loop.
if ! grep -q 'Listening for Jobs' ` + runnerLogFile + `; then
	grep -v '^runner exited with code' ` + runnerLogFile + ` | tail -n 3 > ` + failedFile + `
	exit 1
fi
# Nothing of an ephemeral runner outlives it: power off at once, without
# the init system's shutdown, so LXD deletes it (and the exit watcher sees
# it go) seconds sooner.
sync
poweroff -f
`

// runnerPath is the runner's PATH: Debian's and Ubuntu's for a login shell
// (/etc/login.defs ENV_PATH, /etc/profile), with the sbin folders.
const runnerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// launchCmd starts the start script detached, in an environment of its
// own (none of the exec's HOME=/root and USER=root), and records its pid
// before returning, so an alive check right after sees it.
var launchCmd = []string{"sh", "-c", "mkdir -p " + stateDir + " && { env -i PATH=" + runnerPath + " LANG=C.UTF-8 setsid " + startScript + " </dev/null >>" + runnerLogFile + " 2>&1 & echo $! > " + pidFile + "; }"}

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

// instanceFiles is what installing the runner application needs of LXD.
type instanceFiles interface {
	Exec(ctx context.Context, name string, cmd Command) (ExecResult, error)
	PushFile(ctx context.Context, name, path string, content io.Reader, uid, gid int, mode os.FileMode) error
}

// installRunnerApp pushes the tarball into an instance and unpacks it into
// the runner folder, owned by the runner user.
func installRunnerApp(ctx context.Context, instances instanceFiles, name string, binary runnerBinary) error {
	f, err := os.Open(binary.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	const tarball = "/tmp/actions-runner.tar.gz"
	if err := instances.PushFile(ctx, name, tarball, f, 0, 0, 0o644); err != nil {
		return err
	}
	// The .env the image build wrote (the proxy) outlives a new version.
	const keptEnv = "/tmp/actions-runner.env"
	script := fmt.Sprintf("set -e; if [ -f %[1]s/.env ]; then mv %[1]s/.env %[6]s; fi; rm -rf %[1]s; mkdir -p %[1]s; tar -xzf %[2]s -C %[1]s; rm -f %[2]s; "+
		"if [ -f %[6]s ]; then mv %[6]s %[1]s/.env; fi; echo %[3]q > %[4]s; chown -R %[5]d:%[5]d %[1]s",
		runnerDir, tarball, binary.Version, versionFile, runnerUID, keptEnv)
	out, err := instances.Exec(ctx, name, Command{Args: []string{"sh", "-c", script}})
	if err != nil {
		return err
	}
	if out.ExitCode != 0 {
		return fmt.Errorf("unpacking failed with exit code %d: %s", out.ExitCode, bytes.TrimSpace(out.Stderr))
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func shellQuoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = shellQuote(s)
	}
	return strings.Join(q, " ")
}
