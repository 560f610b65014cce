package runners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// HasRunnerImage says whether the runner image alias exists in LXD.
func (m *Manager) HasRunnerImage(ctx context.Context) (bool, error) {
	_, err := m.cfg.Instances.ImageAlias(ctx, m.cfg.ImageAlias)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("cannot look up runner image %s: %w", m.cfg.ImageAlias, err)
	}
}

// ImageAlias is the alias of the runner image.
func (m *Manager) ImageAlias() string { return m.cfg.ImageAlias }

// BuildRunnerImage builds the runner image: it launches a builder from the
// base image, installs the configured packages and the verified runner
// application, publishes the stopped builder as an image, points the alias
// at it and deletes the builder and the previous image. Until the alias
// moves the old image keeps serving new runners, and a failed build leaves
// it in service and removes what the build made.
func (m *Manager) BuildRunnerImage(ctx context.Context) (err error) {
	binary, err := m.currentBinary()
	if err != nil {
		return fmt.Errorf("cannot build runner image: %w", err)
	}
	m.removeStaleBuilders(ctx)

	name := m.owner.builderName()
	var fingerprint string
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if derr := m.cfg.Instances.DeleteInstance(cctx, name); derr != nil {
			m.log.Warn("Cannot delete image builder", "builder", name, "error", derr)
		}
		if err != nil && fingerprint != "" {
			if derr := m.cfg.Instances.DeleteImage(cctx, fingerprint); derr != nil {
				m.log.Warn("Cannot delete unfinished image", "fingerprint", fingerprint, "error", derr)
			}
		}
	}()

	m.log.Info("Building runner image", "alias", m.cfg.ImageAlias, "base", m.cfg.BaseImage.Alias, "builder", name)
	spec := LaunchSpec{
		Name:     name,
		Type:     m.cfg.InstanceType,
		Source:   m.cfg.BaseImage,
		Config:   m.owner.Keys(RoleBuilder),
		Profiles: append([]string{"default"}, m.cfg.Profiles...),
	}
	if err := m.cfg.Instances.LaunchInstance(ctx, spec); err != nil {
		return fmt.Errorf("cannot launch image builder: %w", err)
	}
	for _, step := range m.buildSteps() {
		m.log.Info("Image build step", "step", step.name)
		out, err := m.cfg.Instances.Exec(ctx, name, Command{Args: []string{"sh", "-c", stepWrapper(step.script)}, Env: step.env})
		if err != nil {
			return fmt.Errorf("image build step %q: %w", step.name, err)
		}
		if out.ExitCode != 0 {
			return fmt.Errorf("image build step %q failed with exit code %d: %s", step.name, out.ExitCode, lastLines(out.Stderr, 5))
		}
	}
	if err := m.installRunnerApp(ctx, name, binary); err != nil {
		return fmt.Errorf("cannot install the runner application in the image: %w", err)
	}
	if err := m.cfg.Instances.PushFile(ctx, name, startScript, strings.NewReader(startRunnerScript), 0, 0, 0o755); err != nil {
		return fmt.Errorf("cannot install the runner start script in the image: %w", err)
	}
	if err := m.cfg.Instances.StopInstance(ctx, name, time.Minute); err != nil {
		return fmt.Errorf("cannot stop image builder: %w", err)
	}
	fingerprint, err = m.cfg.Instances.PublishImage(ctx, name, map[string]string{
		"description":    "github-runner image for " + m.owner.Unit,
		"runner-version": binary.Version,
	})
	if err != nil {
		return fmt.Errorf("cannot publish runner image: %w", err)
	}
	old, err := m.cfg.Instances.ImageAlias(ctx, m.cfg.ImageAlias)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("cannot look up runner image %s: %w", m.cfg.ImageAlias, err)
	}
	if err := m.cfg.Instances.SetImageAlias(ctx, m.cfg.ImageAlias, fingerprint); err != nil {
		return fmt.Errorf("cannot point %s at the new image: %w", m.cfg.ImageAlias, err)
	}
	if old != "" && old != fingerprint {
		if err := m.cfg.Instances.DeleteImage(ctx, old); err != nil {
			m.log.Warn("Cannot delete the previous runner image", "fingerprint", old, "error", err)
		}
	}
	m.log.Info("Runner image built", "alias", m.cfg.ImageAlias, "fingerprint", fingerprint)
	return nil
}

// removeStaleBuilders deletes builders a killed build left behind.
func (m *Manager) removeStaleBuilders(ctx context.Context) {
	builders, err := m.cfg.Instances.ListInstances(ctx, m.owner.Keys(RoleBuilder))
	if err != nil {
		m.log.Warn("Cannot list stale image builders", "error", err)
		return
	}
	for _, b := range builders {
		if m.owner.OwnsInstance(b.Name, b.Config, RoleBuilder) {
			if err := m.cfg.Instances.DeleteInstance(ctx, b.Name); err != nil {
				m.log.Warn("Cannot delete stale image builder", "builder", b.Name, "error", err)
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
func (m *Manager) buildSteps() []buildStep {
	var steps []buildStep
	// The runner user exists on Ubuntu images; make sure of it elsewhere.
	steps = append(steps, buildStep{name: "runner user", script: fmt.Sprintf(
		"awk -F: '$3 == %[1]d {found=1} END {exit !found}' /etc/passwd || "+
			"useradd -m -u %[1]d -s /bin/bash ubuntu || adduser -D -u %[1]d ubuntu", runnerUID)})
	if len(m.cfg.ImagePackages) > 0 {
		steps = append(steps, buildStep{
			name: "packages",
			script: "for i in $(seq 1 30); do [ -e /var/lib/cloud/instance/boot-finished ] && break; " +
				"command -v cloud-init >/dev/null || break; sleep 2; done; " +
				"apt-get update -q && apt-get install -y -q --no-install-recommends " + shellQuoteAll(m.cfg.ImagePackages),
			env: map[string]string{"DEBIAN_FRONTEND": "noninteractive"},
		})
	}
	if m.cfg.DockerhubMirror != "" {
		conf, _ := json.Marshal(map[string][]string{"registry-mirrors": {m.cfg.DockerhubMirror}})
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

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func shellQuoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = shellQuote(s)
	}
	return strings.Join(q, " ")
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
