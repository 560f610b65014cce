package runners

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"charm.example/github-runner/internal/github"
)

// create starts n runners in parallel, recording each in result.
func (m *Manager) create(ctx context.Context, n int, res Resources, result *Result, mu *sync.Mutex) {
	binary, binErr := m.app.current()
	parallel(ctx, m.cfg.MaxParallel, n, func(ctx context.Context, _ int) {
		name := m.owner.NewName()
		err := m.createOne(ctx, name, res, binary, binErr)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			result.Failures = append(result.Failures, Failure{Name: name, Err: err, Creating: true})
			return
		}
		result.Created = append(result.Created, name)
	})
}

// createOne starts one runner. Whatever fails, what it made is undone: the
// instance is deleted and the GitHub registration removed.
func (m *Manager) createOne(ctx context.Context, name string, res Resources, binary runnerBinary, binErr error) (err error) {
	var id int64
	launched := false
	stage := StageRegister
	defer func() {
		if err == nil {
			return
		}
		err = &CreateError{Stage: stage, Err: err}
		// Clean up with a context of its own: ctx may be what failed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if launched {
			if derr := m.instances.DeleteInstance(cctx, name); derr != nil {
				err = errors.Join(err, fmt.Errorf("cannot clean up instance %s: %w", name, derr))
			}
		}
		if id != 0 {
			if derr := m.github.DeleteRunner(cctx, id); derr != nil {
				err = errors.Join(err, fmt.Errorf("cannot clean up GitHub runner %s: %w", name, derr))
			}
		}
	}()

	env := map[string]string{}
	labels := m.runnerLabels()
	jit, err := m.github.GenerateJITConfig(ctx, github.JITRequest{Name: name, Labels: labels, Group: m.cfg.Group})
	switch {
	case err == nil:
		id = jit.Runner.ID
		env["ACTIONS_RUNNER_INPUT_JITCONFIG"] = jit.EncodedConfig
	case errors.Is(err, github.ErrNotFound):
		// A server without JIT configs (older GitHub Enterprise Server):
		// fall back to a registration token for config.sh.
		tok, terr := m.github.RegistrationToken(ctx)
		if terr != nil {
			return fmt.Errorf("cannot register runner %s: %w", name, terr)
		}
		env["ACTIONS_RUNNER_INPUT_TOKEN"] = tok.Value
		env["RUNNER_URL"] = m.github.WebURL()
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
	launched, stage = true, StageLaunch
	if err := m.instances.LaunchInstance(ctx, spec); err != nil {
		return fmt.Errorf("cannot launch runner %s: %w", name, err)
	}

	// The image carries the runner application; push the current one over
	// it when the image was built with another version.
	stage = StageSetup
	if binErr == nil {
		if err := m.ensureRunnerApp(ctx, name, binary); err != nil {
			return err
		}
	}
	if err := m.instances.PushFile(ctx, name, startScript, strings.NewReader(startRunnerScript), 0, 0, 0o755); err != nil {
		return fmt.Errorf("cannot set up runner %s: %w", name, err)
	}
	if err := m.instances.PushFile(ctx, name, secretsFile, strings.NewReader(envFile(env)), 0, 0, 0o600); err != nil {
		return fmt.Errorf("cannot set up runner %s: %w", name, err)
	}
	stage = StageStart
	out, err := m.instances.Exec(ctx, name, Command{Args: launchCmd})
	if err != nil {
		return fmt.Errorf("cannot start runner %s: %w", name, err)
	}
	if out.ExitCode != 0 {
		return fmt.Errorf("cannot start runner %s: exit code %d: %s", name, out.ExitCode, bytes.TrimSpace(out.Stderr))
	}
	m.log.Info("Started runner", "runner", name, "github_id", id)
	return nil
}

// CreateStage is the step of a runner's creation that failed.
type CreateStage string

// Creation stages, in order.
const (
	StageRegister CreateStage = "register" // the GitHub registration (JIT config or token)
	StageLaunch   CreateStage = "launch"   // the LXD instance's creation and start
	StageSetup    CreateStage = "setup"    // the runner application and files pushed in
	StageStart    CreateStage = "start"    // the start script's launch
)

// CreateError is a runner creation's failure and the stage it failed at.
type CreateError struct {
	Stage CreateStage
	Err   error
}

func (e *CreateError) Error() string { return e.Err.Error() }
func (e *CreateError) Unwrap() error { return e.Err }

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

// ensureRunnerApp installs binary in the instance unless the image already
// has that version.
func (m *Manager) ensureRunnerApp(ctx context.Context, name string, binary runnerBinary) error {
	out, err := m.instances.Exec(ctx, name, Command{Args: []string{"cat", versionFile}})
	if err == nil && out.ExitCode == 0 && strings.TrimSpace(string(out.Stdout)) == binary.Version {
		return nil
	}
	m.log.Info("Installing runner application", "runner", name, "version", binary.Version)
	if err := installRunnerApp(ctx, m.instances, name, binary); err != nil {
		return fmt.Errorf("cannot install runner application in %s: %w", name, err)
	}
	return nil
}
