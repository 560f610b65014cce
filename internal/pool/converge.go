package pool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"charm.example/github-runner/internal/runners"
)

// Applied is what the unit last made its runners and image of. A change
// between two converges replaces the idle runners or rebuilds the image.
type Applied struct {
	Registration string `json:"registration"`
	RunnerSpec   string `json:"runner-spec"`
	ImageSpec    string `json:"image-spec"`
	// TimerDir and CronDir are where the periodic jobs were written.
	TimerDir string `json:"timer-directory"`
	CronDir  string `json:"cron-directory"`
}

// Credentials are the GitHub settings runners were registered with. The
// token prints as "<redacted>".
type Credentials struct {
	Path   string
	Token  Token
	APIURL string
	// App names the GitHub App installation ("app <id> installation
	// <id>"), "" with a token. Only the identity is kept, never the App's
	// private key: runners of an earlier installation can be flushed only
	// while the settings still name the same one.
	App string
}

// CredentialsOf are the credentials in s.
func CredentialsOf(s Settings) Credentials {
	c := Credentials{Path: s.Path, Token: s.Token, APIURL: s.GitHubAPIURL}
	if s.UsesApp() {
		c.App = fmt.Sprintf("app %d installation %d", s.AppID, s.AppInstallationID)
	}
	return c
}

// WithCredentials is s with c's GitHub settings. For c of an App, s's own
// App options stay (see Credentials.App).
func (s Settings) WithCredentials(c Credentials) Settings {
	s.Path, s.Token, s.GitHubAPIURL = c.Path, c.Token, c.APIURL
	if c.App == "" {
		s.AppID, s.AppInstallationID, s.AppPrivateKey = 0, 0, ""
	}
	return s
}

// Memory keeps, between runs, what a converge applied and the credentials
// the runners were registered with. The charm keeps them with Juju; the
// command line in its state folder.
type Memory interface {
	Applied(ctx context.Context) (*Applied, error)
	SaveApplied(ctx context.Context, a Applied) error
	Credentials(ctx context.Context) (*Credentials, error)
	SaveCredentials(ctx context.Context, c Credentials) error
}

// Schedules installs the periodic jobs a front door keeps for the pool
// (the charm's reconcile timer, image rebuilds and exit watcher). old is
// what was applied before, nil on the first converge.
type Schedules interface {
	Ensure(ctx context.Context, p *Pool, old *Applied) error
}

// ConvergeOptions say what Converge does beyond making the unit match its
// settings.
type ConvergeOptions struct {
	// Reconcile brings the runners to virtual-machines at the end.
	Reconcile bool
	// FlushIdle replaces the idle runners, for this reason.
	FlushIdle string
	// KeepImage never rebuilds an existing image, even if its settings
	// look changed.
	KeepImage bool
}

// Converge brings the unit to its settings, level-based, so that running it
// twice changes nothing: GitHub credentials (flushing the runners of old
// ones), the runner application, the runner image, the replacement of idle
// runners whose labels or resources changed, the periodic jobs, and then,
// if asked, the runners themselves. It returns the reconcile's result (nil
// without Reconcile), also when the reconcile failed.
func (p *Pool) Converge(ctx context.Context, o ConvergeOptions) (*runners.Result, error) {
	if err := p.applyCredentials(ctx); err != nil {
		return nil, err
	}
	if _, err := p.EnsureRunnerBinary(ctx, false); err != nil {
		return nil, err
	}
	var old *Applied
	if p.opts.Memory != nil {
		var err error
		if old, err = p.opts.Memory.Applied(ctx); err != nil {
			return nil, err
		}
	}
	s := p.settings
	want := Applied{
		Registration: s.registrationSpec(),
		RunnerSpec:   s.runnerSpec(p.StoragePool()),
		ImageSpec:    s.imageSpec(p.RunnerProxy()),
		TimerDir:     s.TimerDirectory,
		CronDir:      s.CronDirectory,
	}
	var reasons []string
	if o.FlushIdle != "" {
		reasons = append(reasons, o.FlushIdle)
	}
	if old != nil && old.Registration != want.Registration {
		reasons = append(reasons, "labels or group changed")
	}
	if old != nil && old.RunnerSpec != want.RunnerSpec {
		reasons = append(reasons, "runner resources changed")
	}

	if err := p.EnsureStorage(ctx); err != nil {
		return nil, err
	}
	hasImage, err := p.HasImage(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case !hasImage:
		if err := p.BuildImage(ctx, "no runner image yet"); err != nil {
			return nil, err
		}
	case o.KeepImage:
		// The image stays; its settings are taken as those of now.
	case old != nil && old.ImageSpec != want.ImageSpec:
		if err := p.BuildImage(ctx, "image settings changed"); err != nil {
			return nil, err
		}
		reasons = append(reasons, "runner image rebuilt")
	}

	if len(reasons) > 0 {
		if err := p.progress(ctx, "replacing the idle runners: "+strings.Join(reasons, ", ")); err != nil {
			return nil, err
		}
		res, err := p.Flush(ctx, runners.FlushIdle)
		if err != nil {
			return nil, err
		}
		p.log.Info("idle runners replaced", "removed", len(res.Removed), "busy-left", res.Busy, "reasons", strings.Join(reasons, ", "))
	}

	if p.opts.Schedules != nil {
		if err := p.opts.Schedules.Ensure(ctx, p, old); err != nil {
			return nil, err
		}
	}
	if p.opts.Memory != nil {
		if err := p.opts.Memory.SaveApplied(ctx, want); err != nil {
			return nil, err
		}
	}
	if !o.Reconcile {
		return nil, p.progress(ctx, "runner application, image and timer ready; the runners start next")
	}
	res, err := p.Reconcile(ctx)
	return &res, err
}

// applyCredentials handles a change of path, token (or the secret's
// content) or github-api-url. The new credentials must work first; then
// the runners registered with the old ones are flushed with those, busy
// ones too, before the new ones are remembered. Old credentials that
// GitHub no longer accepts cannot de-register anything: the unit's
// instances are then removed from LXD alone.
func (p *Pool) applyCredentials(ctx context.Context) error {
	if p.opts.Memory == nil {
		return nil
	}
	cur := CredentialsOf(p.settings)
	prev, err := p.opts.Memory.Credentials(ctx)
	if err != nil {
		return err
	}
	if prev == nil {
		return p.opts.Memory.SaveCredentials(ctx, cur)
	}
	if *prev == cur {
		return nil
	}
	// Nothing is touched until the new settings work.
	if _, err := p.Runners(ctx); err != nil {
		return err
	}
	if err := p.progress(ctx, "GitHub settings changed: removing the runners registered with the old ones"); err != nil {
		return err
	}
	res, err := p.flushWith(ctx, *prev)
	switch v := Classify(err); {
	case err == nil:
		p.log.Info("runners of the old GitHub settings flushed", "removed", len(res.Removed))
	case v.Kind == Block:
		p.log.Warn("the old GitHub settings no longer work; removing their runners from LXD only", "reason", v.Message)
		removed, err := p.mgr.RemoveInstances(ctx)
		if err != nil {
			return err
		}
		p.log.Info("runners of the old GitHub settings removed from LXD", "removed", len(removed))
	default:
		return err
	}
	return p.opts.Memory.SaveCredentials(ctx, cur)
}

// flushWith removes the unit's runners, busy ones too, with earlier
// credentials. Earlier App credentials are tried with the App options of
// now (the key is never kept); when there are none, the error is a
// *BlockedError.
func (p *Pool) flushWith(ctx context.Context, prev Credentials) (runners.Result, error) {
	if prev.App != "" && !p.settings.UsesApp() {
		return runners.Result{}, &BlockedError{Message: "the earlier GitHub App's private key is not kept"}
	}
	opts := p.opts
	opts.Memory, opts.Schedules, opts.Reporter = nil, nil, nil
	oldPool, err := Open(p.settings.WithCredentials(prev), opts)
	if err != nil {
		return runners.Result{}, err
	}
	return oldPool.Flush(ctx, runners.FlushBusy)
}

// Teardown removes every runner of the unit, busy ones too, de-registering
// them from GitHub with the pool's credentials (from LXD alone when GitHub
// refuses them), and what is left of the unit's instances; with all, also
// the runner image and the state folder.
func (p *Pool) Teardown(ctx context.Context, all bool) error {
	ctx, cancel := context.WithTimeout(ctx, FlushTimeout)
	defer cancel()
	res, err := p.mgr.Flush(ctx, runners.FlushBusy)
	switch v := Classify(p.scoped(err)); {
	case err == nil:
		p.log.Info("runners removed", "removed", len(res.Removed))
	case v.Kind == Block:
		p.log.Warn("GitHub refuses the unit's credentials; removing the runners from LXD only", "reason", v.Message)
	default:
		// A passing fault. A teardown that fails wedges the unit (Juju
		// runs nothing else until it succeeds) and cannot wait for GitHub:
		// remove what LXD holds; if LXD answers, the runners are gone and
		// GitHub drops their ephemeral, offline registrations itself.
		p.log.Warn("cannot flush the runners through GitHub; removing them from LXD only", "err", err)
	}
	// Image builders, and runners GitHub could not be asked about.
	if removed, err := p.mgr.RemoveInstances(ctx); err != nil {
		return err
	} else if len(removed) > 0 {
		p.log.Info("instances removed from LXD", "removed", len(removed))
	}
	if !all {
		return nil
	}
	if err := p.mgr.DeleteRunnerImage(ctx); err != nil {
		return err
	}
	return p.deleteOwnStorage(ctx)
}

// runnerSpec is what each runner is made of; a change replaces the idle
// runners.
func (s Settings) runnerSpec(storagePool string) string {
	res, _ := s.Resources()
	return strings.Join([]string{s.InstanceType, "cpu=" + strconv.Itoa(res.CPU),
		"memory=" + runners.FormatSize(res.Memory), "disk=" + runners.FormatSize(res.Disk),
		"storage=" + storagePool}, " ")
}

// imageSpec is what the runner image is built from; a change rebuilds it.
// The proxy goes in as a digest: its URLs may carry a password, and the
// spec is kept in the charm's state.
func (s Settings) imageSpec(proxy runners.Proxy) string {
	src := s.BaseImageSource()
	spec := strings.Join([]string{s.InstanceType, src.Server, src.Alias,
		"packages=" + strings.Join(s.PackageList(), ","), "mirror=" + s.DockerHubMirror}, " ")
	if !proxy.IsZero() || proxy.NoProxy != "" {
		sum := sha256.Sum256([]byte(proxy.HTTP + "\x00" + proxy.HTTPS + "\x00" + proxy.NoProxy))
		spec += " proxy=" + hex.EncodeToString(sum[:8])
	}
	return spec
}

// registrationSpec is how runners register: their labels and, for an
// organisation, their group; a change replaces the idle runners.
func (s Settings) registrationSpec() string {
	labels, _ := s.LabelList()
	spec := "labels=" + strings.Join(labels, ",")
	if !s.IsRepository() {
		spec += " group=" + strings.ToLower(strings.TrimSpace(s.Group))
	}
	return spec
}

// BaseImageSource is where the runner image is built from: jammy and noble
// are the Ubuntu releases on image-server (simplestreams); anything else is
// an alias (or fingerprint) in the local LXD image store.
func (s Settings) BaseImageSource() runners.ImageSource {
	if alias := remoteBaseAlias(s.BaseImage); alias != "" {
		return runners.ImageSource{Alias: alias, Server: s.ImageServer, Protocol: "simplestreams"}
	}
	return runners.ImageSource{Alias: s.BaseImage}
}
