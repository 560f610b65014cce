package runners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	}
	if err := b.instances.LaunchInstance(ctx, spec); err != nil {
		return fmt.Errorf("cannot launch image builder: %w", err)
	}
	for _, step := range b.buildSteps() {
		b.log.Info("Image build step", "step", step.name)
		out, err := b.instances.Exec(ctx, name, Command{Args: []string{"sh", "-c", stepWrapper(step.script)}, Env: step.env})
		if err != nil {
			return fmt.Errorf("image build step %q: %w", step.name, err)
		}
		if out.ExitCode != 0 {
			return fmt.Errorf("image build step %q failed with exit code %d: %s", step.name, out.ExitCode, lastLines(out.Stderr, 5))
		}
	}
	if err := installRunnerApp(ctx, b.instances, name, binary); err != nil {
		return fmt.Errorf("cannot install the runner application in the image: %w", err)
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
}

// buildSteps are what the image build runs in the builder, in order.
func (b *ImageBuilder) buildSteps() []buildStep {
	var steps []buildStep
	// The runner user exists on Ubuntu images; make sure of it elsewhere.
	steps = append(steps, buildStep{name: "runner user", script: fmt.Sprintf(
		"awk -F: '$3 == %[1]d {found=1} END {exit !found}' /etc/passwd || "+
			"useradd -m -u %[1]d -s /bin/bash ubuntu || adduser -D -u %[1]d ubuntu", runnerUID)})
	if len(b.packages) > 0 {
		steps = append(steps, buildStep{
			name: "packages",
			script: "for i in $(seq 1 30); do [ -e /var/lib/cloud/instance/boot-finished ] && break; " +
				"command -v cloud-init >/dev/null || break; sleep 2; done; " +
				"apt-get update -q && apt-get install -y -q --no-install-recommends " + shellQuoteAll(b.packages),
			env: map[string]string{"DEBIAN_FRONTEND": "noninteractive"},
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
