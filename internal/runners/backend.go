package runners

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"charm.example/github-runner/internal/github"
)

// Instance is an LXD instance as the manager sees it.
type Instance struct {
	Name      string
	Running   bool
	Status    string            // LXD's status word: Running, Stopped, ...
	Config    map[string]string // the instance's own config (user.* keys among it)
	CreatedAt time.Time
}

// ImageSource says where an instance's image comes from: a local alias or
// fingerprint, or an alias on a remote simplestreams server.
type ImageSource struct {
	Alias    string // alias (or fingerprint) to launch from
	Server   string // empty for the local image store
	Protocol string // "simplestreams" with Server
}

// LaunchSpec describes an instance to create and start.
type LaunchSpec struct {
	Name      string
	Type      string // "container" or "virtual-machine"
	Source    ImageSource
	Ephemeral bool
	Config    map[string]string
	Profiles  []string
	Devices   map[string]map[string]string
}

// Command is a process to run in an instance. Secrets go in Env, never Args.
type Command struct {
	Args []string
	Env  map[string]string
}

// ExecResult is how a Command ended.
type ExecResult struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

// ErrNotFound is what Instances returns for a missing image alias.
var ErrNotFound = errors.New("not found")

// Instances is what the manager and its parts need of LXD, together: the
// image builder uses all of it; a reconcile, the installation of the
// runner application and the exit watcher declare the few methods they
// call.
type Instances interface {
	// ListInstances lists the instances carrying every key of keys.
	ListInstances(ctx context.Context, keys map[string]string) ([]Instance, error)
	// LaunchInstance creates and starts an instance and waits until a
	// command can run in it.
	LaunchInstance(ctx context.Context, spec LaunchSpec) error
	// StopInstance stops an instance, forcibly after timeout.
	StopInstance(ctx context.Context, name string, timeout time.Duration) error
	// DeleteInstance stops an instance forcibly and deletes it; one that is
	// already gone counts as deleted.
	DeleteInstance(ctx context.Context, name string) error
	// Exec runs a command and waits for it.
	Exec(ctx context.Context, name string, cmd Command) (ExecResult, error)
	// PushFile writes a file into an instance.
	PushFile(ctx context.Context, name, path string, content io.Reader, uid, gid int, mode os.FileMode) error
	// ReadFile reads a file from an instance, running or stopped (a stopped
	// virtual machine cannot be read). For a directory the content is
	// empty and entries lists its names. A missing file is ErrNotFound.
	ReadFile(ctx context.Context, name, path string) (content io.ReadCloser, entries []string, err error)
	// PublishImage publishes a stopped instance as an image and returns its
	// fingerprint.
	PublishImage(ctx context.Context, instance string, properties map[string]string) (string, error)
	// ImageAlias returns the fingerprint an alias points at, or ErrNotFound.
	ImageAlias(ctx context.Context, alias string) (string, error)
	// SetImageAlias creates alias or points it at fingerprint.
	SetImageAlias(ctx context.Context, alias, fingerprint string) error
	// DeleteImage deletes an image; one already gone counts as deleted.
	DeleteImage(ctx context.Context, fingerprint string) error
	// DeleteImageAlias deletes an alias; one already gone counts as deleted.
	DeleteImageAlias(ctx context.Context, alias string) error
}

// GitHub is what the manager and its parts need of GitHub, together: a
// reconcile registers, lists and removes runners; the runner application
// store lists downloads.
type GitHub interface {
	// ListRunners lists the runners whose names start with prefix.
	ListRunners(ctx context.Context, prefix string) ([]github.Runner, error)
	// DeleteRunner de-registers a runner; github.ErrBusy while it runs a job.
	DeleteRunner(ctx context.Context, id int64) error
	// GenerateJITConfig registers a runner and returns its JIT config.
	GenerateJITConfig(ctx context.Context, req github.JITRequest) (github.JITConfig, error)
	// RegistrationToken returns a token for config.sh (the fallback).
	RegistrationToken(ctx context.Context) (github.Token, error)
	// RunnerDownloads lists the runner application's downloads.
	RunnerDownloads(ctx context.Context) ([]github.Download, error)
	// WebURL is the URL runners register at (config.sh --url).
	WebURL() string
}
