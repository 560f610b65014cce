package runners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ImageBuilder builds a unit's runner image and says whether it exists.
type ImageBuilder struct {
	owner Owner
	// instances is LXD; the builder uses all of Instances.
	instances       Instances
	app             *AppStore
	alias           string
	base            ImageSource
	instanceType    string
	packages        []string
	dockerhubMirror string
	profiles        []string
	proxy           Proxy
	storagePool     string
	log             *slog.Logger
}

// Exists says whether the runner image alias exists in LXD. The image of a
// unit upgraded from names without the model, under the default alias of
// then, moves to the default alias of now (so an upgrade builds none).
func (b *ImageBuilder) Exists(ctx context.Context) (bool, error) {
	_, err := b.instances.ImageAlias(ctx, b.alias)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return b.adoptLegacy(ctx)
	default:
		return false, fmt.Errorf("cannot look up runner image %s: %w", b.alias, err)
	}
}

func (b *ImageBuilder) adoptLegacy(ctx context.Context) (bool, error) {
	legacy := b.owner.legacyImageAlias()
	if b.alias != b.owner.ImageAlias() || legacy == b.alias {
		return false, nil
	}
	fp, err := b.instances.ImageAlias(ctx, legacy)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot look up runner image %s: %w", legacy, err)
	}
	if err := b.instances.SetImageAlias(ctx, b.alias, fp); err != nil {
		return false, fmt.Errorf("cannot move runner image %s to %s: %w", legacy, b.alias, err)
	}
	if err := b.instances.DeleteImageAlias(ctx, legacy); err != nil {
		return false, fmt.Errorf("cannot move runner image %s to %s: %w", legacy, b.alias, err)
	}
	b.log.Info("runner image alias moved", "from", legacy, "to", b.alias)
	return true, nil
}

// Alias is the alias of the runner image.
func (b *ImageBuilder) Alias() string { return b.alias }

// Build builds the runner image: it launches a builder from the base image,
// installs the configured packages and the verified runner application,
// publishes the stopped builder as an image, points the alias at it and
// deletes the builder and the previous image. Until the alias moves the old
// image keeps serving new runners, and a failed build leaves it in service
// and removes what the build made.
func (b *ImageBuilder) Build(ctx context.Context) (err error) {
	binary, err := b.app.current()
	if err != nil {
		return fmt.Errorf("cannot build runner image: %w", err)
	}
	b.removeStaleBuilders(ctx)

	name := b.owner.builderName()
	var fingerprint string
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if derr := b.instances.DeleteInstance(cctx, name); derr != nil {
			b.log.Warn("Cannot delete image builder", "builder", name, "error", derr)
		}
		if err != nil && fingerprint != "" {
			if derr := b.instances.DeleteImage(cctx, fingerprint); derr != nil {
				b.log.Warn("Cannot delete unfinished image", "fingerprint", fingerprint, "error", derr)
			}
		}
	}()

	b.log.Info("Building runner image", "alias", b.alias, "base", b.base.Alias, "builder", name)
	spec := LaunchSpec{
		Name:     name,
		Type:     b.instanceType,
		Source:   b.base,
		Config:   b.owner.Keys(RoleBuilder),
		Profiles: append([]string{"default"}, b.profiles...),
		Devices:  map[string]map[string]string{"root": {"type": "disk", "path": "/", "pool": b.storagePool}},
	}
	if err := b.instances.LaunchInstance(ctx, spec); err != nil {
		return fmt.Errorf("cannot launch image builder: %w", err)
	}
	for _, step := range b.buildSteps() {
		b.log.Info("Image build step", "step", step.name)
		t := time.Now()
		if err := b.runStep(ctx, name, step); err != nil {
			return err
		}
		b.log.Info("Image build step done", "step", step.name, "took", time.Since(t).Round(time.Millisecond))
	}
	if err := installRunnerApp(ctx, b.instances, name, binary); err != nil {
		return fmt.Errorf("cannot install the runner application in the image: %w", err)
	}
	if px := b.proxy.normal(); !px.IsZero() {
		// The runner application reads its .env at start and gives it to
		// every job (actions/runner src/Runner.Listener/Program.cs).
		if err := b.instances.PushFile(ctx, name, runnerEnvFile, strings.NewReader(px.environmentLines()), runnerUID, runnerUID, 0o644); err != nil {
			return fmt.Errorf("cannot write the runner's .env in the image: %w", err)
		}
	}
	if err := b.instances.PushFile(ctx, name, startScript, strings.NewReader(startRunnerScript), 0, 0, 0o755); err != nil {
		return fmt.Errorf("cannot install the runner start script in the image: %w", err)
	}
	if err := b.instances.StopInstance(ctx, name, time.Minute); err != nil {
		return fmt.Errorf("cannot stop image builder: %w", err)
	}
	fingerprint, err = b.instances.PublishImage(ctx, name, map[string]string{
		"description":    "github-runner image for " + b.owner.Unit,
		"runner-version": binary.Version,
	})
	if err != nil {
		return fmt.Errorf("cannot publish runner image: %w", err)
	}
	old, err := b.instances.ImageAlias(ctx, b.alias)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("cannot look up runner image %s: %w", b.alias, err)
	}
	if err := b.instances.SetImageAlias(ctx, b.alias, fingerprint); err != nil {
		return fmt.Errorf("cannot point %s at the new image: %w", b.alias, err)
	}
	if old != "" && old != fingerprint {
		if err := b.instances.DeleteImage(ctx, old); err != nil {
			b.log.Warn("Cannot delete the previous runner image", "fingerprint", old, "error", err)
		}
	}
	b.log.Info("Runner image built", "alias", b.alias, "fingerprint", fingerprint)
	return nil
}

// removeStaleBuilders deletes builders a killed build left behind.
func (b *ImageBuilder) removeStaleBuilders(ctx context.Context) {
	builders, err := b.instances.ListInstances(ctx, b.owner.Keys(RoleBuilder))
	if err != nil {
		b.log.Warn("Cannot list stale image builders", "error", err)
		return
	}
	for _, in := range builders {
		if b.owner.OwnsInstance(in.Name, in.Config, RoleBuilder) {
			if err := b.instances.DeleteInstance(ctx, in.Name); err != nil {
				b.log.Warn("Cannot delete stale image builder", "builder", in.Name, "error", err)
			}
		}
	}
}

type buildStep struct {
	name   string
	script string
	env    map[string]string
	// files are pushed (root-owned, 0644) to stageDir-NAME before the
	// script runs: their content never goes on a command line.
	files map[string]string
	// failed, when set, turns a failed run into the error to return.
	failed func(out ExecResult) error
}

// Paths the image build writes.
const (
	aptLockConf       = "/etc/apt/apt.conf.d/90github-runner-lock"
	aptProxyConf      = "/etc/apt/apt.conf.d/90github-runner-proxy"
	dockerProxyDropIn = "/etc/systemd/system/docker.service.d/http-proxy.conf"
	runnerEnvFile     = runnerDir + "/.env"
	// stageDir starts the names of a step's files until its script puts
	// them in place.
	stageDir = "/tmp/github-runner-build"
)

// aptBackgroundUnits are what starts apt in the background on Debian and
// Ubuntu: they hold the dpkg lock in a fresh instance, and a job's own apt
// then fails. Runners come from the image, so masking them there is enough.
var aptBackgroundUnits = []string{"apt-daily.timer", "apt-daily-upgrade.timer",
	"apt-daily.service", "apt-daily-upgrade.service", "unattended-upgrades.service"}

// dpkgLockTimeout is how long apt waits for the dpkg lock (DPkg::Lock::Timeout)
// in the image and in the runners, instead of failing at once.
const dpkgLockTimeout = 300

// buildSteps are what the image build runs in the builder, in order.
func (b *ImageBuilder) buildSteps() []buildStep {
	var steps []buildStep
	// Wait for the base image's boot to be over (systemd, cloud-init) so
	// that apt and useradd do not race it.
	// Before systemd answers on its bus, systemctl says "offline" at once.
	steps = append(steps, buildStep{name: "boot", script: "if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then " +
		"i=0; while [ $i -lt 600 ]; do s=$(timeout 300 systemctl is-system-running --wait 2>/dev/null); " +
		"case \"$s\" in offline|unknown|initializing|starting|'') i=$((i+1)); sleep 0.5 ;; *) break ;; esac; done; fi; " +
		"if command -v cloud-init >/dev/null; then timeout 300 cloud-init status --wait >/dev/null 2>&1; fi; true"})
	// The runner user exists on Ubuntu images; make sure of it elsewhere.
	steps = append(steps, buildStep{name: "runner user", script: fmt.Sprintf(
		"awk -F: '$3 == %[1]d {found=1} END {exit !found}' /etc/passwd || "+
			"useradd -m -u %[1]d -s /bin/bash ubuntu || adduser -D -u %[1]d ubuntu", runnerUID)})
	if px := b.proxy.normal(); !px.IsZero() {
		steps = append(steps, buildStep{
			name: "proxy",
			files: map[string]string{
				"environment":        px.environmentLines(),
				"apt-proxy.conf":     px.aptConf(),
				"docker-daemon.conf": px.dockerDaemonDropIn(),
				"docker-config.json": px.dockerClientConfig(),
			},
			script: "set -e; s=" + stageDir + "; touch /etc/environment; " +
				"grep -v -i -E '^(http|https|no)_proxy=' /etc/environment > /etc/environment.new || true; " +
				"cat $s-environment >> /etc/environment.new; mv /etc/environment.new /etc/environment; chmod 644 /etc/environment; " +
				"mkdir -p /etc/apt/apt.conf.d " + shellQuote(path.Dir(dockerProxyDropIn)) + "; " +
				"mv $s-apt-proxy.conf " + aptProxyConf + "; mv $s-docker-daemon.conf " + dockerProxyDropIn + "; " +
				fmt.Sprintf("home=$(awk -F: '$3 == %[1]d {print $6; exit}' /etc/passwd); mkdir -p \"$home/.docker\"; "+
					"mv $s-docker-config.json \"$home/.docker/config.json\"; chown -R %[1]d:%[1]d \"$home/.docker\"", runnerUID),
		})
	}
	steps = append(steps, buildStep{
		name: "apt settings",
		script: "if command -v apt-get >/dev/null; then mkdir -p /etc/apt/apt.conf.d; " +
			fmt.Sprintf("printf 'DPkg::Lock::Timeout \"%d\";\\n' > %s; fi; ", dpkgLockTimeout, aptLockConf) +
			"if command -v systemctl >/dev/null; then systemctl mask " + strings.Join(aptBackgroundUnits, " ") + " >/dev/null 2>&1; " +
			"systemctl stop " + strings.Join(aptBackgroundUnits, " ") + " >/dev/null 2>&1; fi; true",
	})
	if len(b.packages) > 0 {
		steps = append(steps, buildStep{
			name: "packages",
			// --error-on=any: a source that cannot be fetched fails the
			// update instead of leaving stale (or no) lists.
			script: "apt-get update -q --error-on=any && apt-get install -y -q --no-install-recommends " + shellQuoteAll(b.packages),
			env:    map[string]string{"DEBIAN_FRONTEND": "noninteractive"},
			failed: missingPackages,
		})
	}
	if b.dockerhubMirror != "" {
		conf, _ := json.Marshal(map[string][]string{"registry-mirrors": {b.dockerhubMirror}})
		steps = append(steps, buildStep{
			name:   "docker registry mirror",
			script: "mkdir -p /etc/docker && printf '%s\\n' " + shellQuote(string(conf)) + " > /etc/docker/daemon.json",
		})
	}
	// A runner user that may use Docker, where Docker is installed.
	steps = append(steps, buildStep{name: "docker group", script: fmt.Sprintf(
		"if getent group docker >/dev/null 2>&1; then usermod -aG docker $(awk -F: '$3 == %d {print $1}' /etc/passwd); fi; true", runnerUID)})
	return steps
}

// runStep pushes a step's files and runs its script in the builder.
func (b *ImageBuilder) runStep(ctx context.Context, name string, step buildStep) error {
	names := make([]string, 0, len(step.files))
	for n := range step.files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := b.instances.PushFile(ctx, name, stageDir+"-"+n, strings.NewReader(step.files[n]), 0, 0, 0o644); err != nil {
			return fmt.Errorf("image build step %q: %w", step.name, err)
		}
	}
	out, err := b.instances.Exec(ctx, name, Command{Args: []string{"sh", "-c", stepWrapper(step.script)}, Env: step.env})
	if err != nil {
		return fmt.Errorf("image build step %q: %w", step.name, err)
	}
	if out.ExitCode == 0 {
		return nil
	}
	if step.failed != nil {
		if err := step.failed(out); err != nil {
			return err
		}
	}
	return fmt.Errorf("image build step %q failed with exit code %d: %s", step.name, out.ExitCode, lastLines(out.Stderr, 5))
}

// MissingPackagesError is an image build that failed because apt knows
// none of Packages (or not the version asked for) in the base image's
// sources: a setting to fix, not a fault to retry.
type MissingPackagesError struct {
	Packages []string
}

// Error names the packages.
func (e *MissingPackagesError) Error() string {
	return "apt cannot find package " + strings.Join(quoteEach(e.Packages), ", ")
}

// aptMissingRe matches apt-get install's errors for a package it does not
// know: "E: Unable to locate package x", "E: Package 'x' has no
// installation candidate", "E: Version '1.2' for 'x' was not found" (apt's
// apt-private/private-cacheset.cc and apt-pkg/cacheset.cc).
var aptMissingRe = regexp.MustCompile(`(?m)^E: (?:Unable to locate package (\S+)|Package '([^']+)' has no installation candidate|Version '[^']*' for '([^']+)' was not found)`)

// missingPackages is the *MissingPackagesError of a failed package step, or
// nil when apt failed for another reason.
func missingPackages(out ExecResult) error {
	var missing []string
	for _, m := range aptMissingRe.FindAllStringSubmatch(string(out.Stderr), -1) {
		for _, g := range m[1:] {
			if g != "" && !slices.Contains(missing, g) {
				missing = append(missing, g)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &MissingPackagesError{Packages: missing}
}

func quoteEach(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// stepWrapper runs script so that its exit status comes back as a result:
// LXD 5.0 turns an exec that exits 127 (a command not found inside the
// script) into an operation failure without the script's output.
func stepWrapper(script string) string {
	return "( " + script + "\n); rc=$?; if [ $rc -eq 127 ]; then echo 'a command was not found (exit 127)' >&2; rc=1; fi; exit $rc"
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
