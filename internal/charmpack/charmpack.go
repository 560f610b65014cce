// Package charmpack lays out the charm's files and packs them into a .charm
// archive with github.com/juju/charm/v12, the library Juju itself reads charms
// with. Packing from a fresh staging folder keeps stray files out, and the
// archive carries no timestamps, so the same inputs give the same bytes.
package charmpack

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/juju/charm/v12"
)

// Bases are the Ubuntu releases the charm runs on.
var Bases = []string{"22.04", "24.04"}

// Architectures the charm can be packed for (Juju's names).
var Architectures = []string{"amd64", "arm64"}

// SourceFiles are the files copied from the source folder into the charm.
var SourceFiles = []string{"metadata.yaml", "config.yaml", "actions.yaml", "LICENSE"}

// Observability folders copied, with the files directly in them, into the
// charm at the same paths: the alert rules and dashboards the charm sends
// over cos-agent (see internal/cosagent).
const (
	AlertRulesDir = "cos/prometheus_alert_rules"
	DashboardsDir = "cos/grafana_dashboards"
)

// SourceDirs are the folders copied from the source folder into the charm.
var SourceDirs = []string{AlertRulesDir, DashboardsDir}

// Options say what to pack.
type Options struct {
	// SourceDir holds metadata.yaml, config.yaml, actions.yaml and LICENSE.
	SourceDir string
	// Binary is the charm's static entry binary; it becomes `dispatch`.
	Binary string
	// Arch is the architecture the binary was built for (amd64 or arm64).
	Arch string
	// OutDir is where the .charm file is written.
	OutDir string
}

// FileName is the name of the archive for arch, after Juju's convention
// `<name>_<base>-<arch>.charm` with the first base.
func FileName(arch string) string {
	return fmt.Sprintf("github-runner_ubuntu-%s-%s.charm", Bases[0], arch)
}

// Manifest returns manifest.yaml for arch, with every base's channel quoted
// as Juju requires.
func Manifest(arch string) string {
	var b strings.Builder
	b.WriteString("bases:\n")
	for _, base := range Bases {
		fmt.Fprintf(&b, "- name: ubuntu\n  channel: %q\n  architectures: [%s]\n", base, arch)
	}
	return b.String()
}

// Pack stages the charm in a temporary folder, checks it with juju/charm, and
// writes the archive to OutDir atomically. It returns the archive's path.
func Pack(opts Options) (string, error) {
	if !validArch(opts.Arch) {
		return "", fmt.Errorf("cannot pack for architecture %q: want one of %s", opts.Arch, strings.Join(Architectures, ", "))
	}
	stage, err := os.MkdirTemp("", "charmpack-")
	if err != nil {
		return "", fmt.Errorf("cannot create staging folder: %w", err)
	}
	defer os.RemoveAll(stage)

	if err := Stage(opts, stage); err != nil {
		return "", err
	}
	dir, err := charm.ReadCharmDir(stage)
	if err != nil {
		return "", fmt.Errorf("cannot read staged charm: %w", err)
	}
	if err := charm.CheckMeta(dir); err != nil {
		return "", fmt.Errorf("charm metadata is invalid: %w", err)
	}

	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return "", fmt.Errorf("cannot create output folder: %w", err)
	}
	out := filepath.Join(opts.OutDir, FileName(opts.Arch))
	tmp, err := os.CreateTemp(opts.OutDir, ".charm-*")
	if err != nil {
		return "", fmt.Errorf("cannot create archive: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := dir.ArchiveTo(tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("cannot write archive: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", fmt.Errorf("cannot write archive: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("cannot write archive: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("cannot write archive: %w", err)
	}
	return out, nil
}

// Stage lays out the charm's files in dir: the source files, the regular
// files of the source folders, a manifest for opts.Arch and the binary as
// an executable `dispatch`. Nothing else.
func Stage(opts Options, dir string) error {
	for _, name := range SourceFiles {
		if err := copyFile(filepath.Join(opts.SourceDir, name), filepath.Join(dir, name), 0o644); err != nil {
			return err
		}
	}
	for _, sub := range SourceDirs {
		if err := copyDir(filepath.Join(opts.SourceDir, sub), filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte(Manifest(opts.Arch)), 0o644); err != nil {
		return fmt.Errorf("cannot write manifest: %w", err)
	}
	if err := copyFile(opts.Binary, filepath.Join(dir, "dispatch"), 0o755); err != nil {
		return err
	}
	return nil
}

// copyDir copies the regular files directly in src (not hidden ones, not
// subfolders) into dst, mode 0644.
func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("cannot stage %s: %w", filepath.Base(src), err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("cannot stage %s: %w", filepath.Base(src), err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func validArch(arch string) bool {
	for _, a := range Architectures {
		if a == arch {
			return true
		}
	}
	return false
}

func copyFile(src, dst string, mode os.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("cannot stage %s: %w", filepath.Base(src), err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("cannot stage %s: %w", filepath.Base(src), err)
	}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("cannot stage %s: %w", filepath.Base(src), cerr)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("cannot stage %s: %w", filepath.Base(src), err)
	}
	// Umask may have trimmed the mode bits; set them exactly.
	if err := out.Chmod(mode); err != nil {
		return errors.Join(fmt.Errorf("cannot stage %s", filepath.Base(src)), err)
	}
	return nil
}
