package runners

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"charm.example/github-runner/internal/lxd"
)

// LXDInstances is Instances over the project's LXD client.
type LXDInstances struct {
	Client *lxd.Client
}

var (
	_ Instances   = LXDInstances{}
	_ EventSource = LXDInstances{}
)

// ListInstances implements Instances.
func (l LXDInstances) ListInstances(ctx context.Context, keys map[string]string) ([]Instance, error) {
	list, err := l.Client.GetInstances(ctx, lxd.InstanceFilter{Config: keys})
	if err != nil {
		return nil, err
	}
	out := make([]Instance, 0, len(list))
	for _, in := range list {
		out = append(out, Instance{
			Name:      in.Name,
			Running:   in.Running(),
			Status:    in.Status,
			Config:    in.Config,
			CreatedAt: in.CreatedAt,
		})
	}
	return out, nil
}

// LaunchInstance implements Instances.
func (l LXDInstances) LaunchInstance(ctx context.Context, spec LaunchSpec) error {
	src := lxd.LocalImage(spec.Source.Alias)
	if spec.Source.Server != "" {
		src = lxd.RemoteImage(spec.Source.Server, spec.Source.Alias)
		if spec.Source.Protocol != "" {
			src.Protocol = spec.Source.Protocol
		}
	}
	req := lxd.InstancesPost{
		Name:   spec.Name,
		Type:   lxd.InstanceType(spec.Type),
		Source: src,
		InstancePut: lxd.InstancePut{
			Config:    spec.Config,
			Devices:   spec.Devices,
			Ephemeral: spec.Ephemeral,
			Profiles:  spec.Profiles,
		},
	}
	if err := l.Client.LaunchInstance(ctx, req); err != nil {
		return err
	}
	return l.Client.WaitInstanceReady(ctx, spec.Name)
}

// StopInstance implements Instances.
func (l LXDInstances) StopInstance(ctx context.Context, name string, timeout time.Duration) error {
	err := l.Client.StopInstance(ctx, name, lxd.StopOptions{Timeout: timeout})
	if err == nil {
		return nil
	}
	return l.Client.StopInstance(ctx, name, lxd.StopOptions{Force: true})
}

// DeleteInstance implements Instances.
func (l LXDInstances) DeleteInstance(ctx context.Context, name string) error {
	return l.Client.RemoveInstance(ctx, name)
}

// Exec implements Instances.
func (l LXDInstances) Exec(ctx context.Context, name string, cmd Command) (ExecResult, error) {
	res, err := l.Client.ExecInstance(ctx, name, lxd.ExecArgs{
		Command:     cmd.Args,
		Environment: cmd.Env,
	})
	if err != nil {
		return ExecResult{}, err
	}
	return ExecResult{ExitCode: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr}, nil
}

// PushFile implements Instances.
func (l LXDInstances) PushFile(ctx context.Context, name, path string, content io.Reader, uid, gid int, mode os.FileMode) error {
	return l.Client.CreateInstanceFile(ctx, name, path, lxd.InstanceFileArgs{Content: content, UID: int64(uid), GID: int64(gid), Mode: mode})
}

// ReadFile implements Instances.
func (l LXDInstances) ReadFile(ctx context.Context, name, path string) (io.ReadCloser, []string, error) {
	content, info, err := l.Client.GetInstanceFile(ctx, name, path)
	if errors.Is(err, lxd.ErrNotFound) {
		return nil, nil, errors.Join(ErrNotFound, err)
	}
	if err != nil {
		return nil, nil, err
	}
	if info.Type == "directory" {
		if info.Entries == nil {
			info.Entries = []string{}
		}
		return content, info.Entries, nil
	}
	return content, nil, nil
}

// PublishImage implements Instances.
func (l LXDInstances) PublishImage(ctx context.Context, instance string, properties map[string]string) (string, error) {
	return l.Client.PublishInstance(ctx, instance, lxd.PublishArgs{Properties: properties})
}

// ImageAlias implements Instances.
func (l LXDInstances) ImageAlias(ctx context.Context, alias string) (string, error) {
	a, err := l.Client.GetImageAlias(ctx, alias)
	if errors.Is(err, lxd.ErrNotFound) {
		return "", errors.Join(ErrNotFound, err)
	}
	if err != nil {
		return "", err
	}
	return a.Target, nil
}

// SetImageAlias implements Instances.
func (l LXDInstances) SetImageAlias(ctx context.Context, alias, fingerprint string) error {
	return l.Client.SetImageAlias(ctx, alias, fingerprint)
}

// DeleteImageAlias implements Instances.
func (l LXDInstances) DeleteImageAlias(ctx context.Context, alias string) error {
	if err := l.Client.DeleteImageAlias(ctx, alias); err != nil && !errors.Is(err, lxd.ErrNotFound) {
		return err
	}
	return nil
}

// DeleteImage implements Instances.
func (l LXDInstances) DeleteImage(ctx context.Context, fingerprint string) error {
	op, err := l.Client.DeleteImage(ctx, fingerprint)
	if err == nil {
		err = op.Wait(ctx)
	}
	if errors.Is(err, lxd.ErrNotFound) {
		return nil
	}
	return err
}

// InstanceEvents implements EventSource.
func (l LXDInstances) InstanceEvents(ctx context.Context) (<-chan InstanceEvent, func() error, error) {
	listener, err := l.Client.GetEvents(ctx, lxd.EventTypeLifecycle)
	if err != nil {
		return nil, nil, err
	}
	out := make(chan InstanceEvent)
	go func() {
		defer close(out)
		for ev := range listener.Events() {
			lc, ok := ev.Lifecycle()
			if !ok {
				continue
			}
			name, ok := lc.InstanceName()
			if !ok {
				continue
			}
			select {
			case out <- InstanceEvent{Instance: name, Action: string(lc.Action)}:
			case <-ctx.Done():
				// Drain so the listener can stop.
				for range listener.Events() {
				}
				return
			}
		}
	}()
	return out, listener.Err, nil
}
