package charmpack_test

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/juju/charm/v12"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/charmpack"
)

// buildCharm compiles the real entry binary and packs it.
func buildCharm(t *testing.T, out string) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "github-runner")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", bin, "./charm")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	outb, err := cmd.CombinedOutput()
	require.NoError(t, err, string(outb))
	path, err := charmpack.Pack(charmpack.Options{SourceDir: root, Binary: bin, Arch: runtime.GOARCH, OutDir: out})
	require.NoError(t, err)
	return path
}

func TestPackReadsBackWithJujuCharm(t *testing.T) {
	path := buildCharm(t, t.TempDir())
	require.Equal(t, charmpack.FileName(runtime.GOARCH), filepath.Base(path))

	ch, err := charm.ReadCharmArchive(path)
	require.NoError(t, err)
	require.NoError(t, charm.CheckMeta(ch))
	require.Equal(t, "github-runner", ch.Meta().Name)
	require.Equal(t, charm.FormatV2, charm.MetaFormat(ch))
	require.Len(t, ch.Manifest().Bases, 2)
	for i, want := range charmpack.Bases {
		require.Equal(t, "ubuntu", ch.Manifest().Bases[i].Name)
		require.Equal(t, want, ch.Manifest().Bases[i].Channel.Track)
		require.Equal(t, []string{runtime.GOARCH}, ch.Manifest().Bases[i].Architectures)
	}

	// Exactly the charm's files (and the revision juju/charm adds), dispatch
	// executable, nothing stray.
	zr, err := zip.OpenReader(path)
	require.NoError(t, err)
	defer zr.Close()
	var files []string
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		files = append(files, f.Name)
		if f.Name == "dispatch" {
			require.Equal(t, os.FileMode(0o755), f.Mode().Perm())
		} else {
			require.Equal(t, os.FileMode(0o644), f.Mode().Perm(), f.Name)
		}
	}
	sort.Strings(files)
	require.Equal(t, []string{
		"LICENSE", "actions.yaml", "config.yaml",
		"cos/grafana_dashboards/github-runner.json", "cos/prometheus_alert_rules/github-runner.rules",
		"dispatch", "manifest.yaml", "metadata.yaml", "revision",
	}, files, "the alert rules and dashboards are packed; their tests are not")
}

func TestPackIsReproducible(t *testing.T) {
	a, err := os.ReadFile(buildCharm(t, t.TempDir()))
	require.NoError(t, err)
	b, err := os.ReadFile(buildCharm(t, t.TempDir()))
	require.NoError(t, err)
	require.True(t, bytes.Equal(a, b), "two packs of the same source differ")
}

func TestPackRefusesUnknownArch(t *testing.T) {
	_, err := charmpack.Pack(charmpack.Options{SourceDir: "../..", Binary: "x", Arch: "s390", OutDir: t.TempDir()})
	require.ErrorContains(t, err, `architecture "s390"`)
}

func readCharmDir(t *testing.T) *charm.CharmDir {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, charmpack.Stage(charmpack.Options{SourceDir: "../..", Binary: bin, Arch: "amd64"}, dir))
	ch, err := charm.ReadCharmDir(dir)
	require.NoError(t, err)
	return ch
}

func TestConfigDefaultsValidate(t *testing.T) {
	cfg := readCharmDir(t).Config()
	defaults := cfg.DefaultSettings()
	_, err := cfg.ValidateSettings(defaults)
	require.NoError(t, err)
	require.Equal(t, int64(1), defaults["virtual-machines"])
	require.Equal(t, int64(10), defaults["reconcile-interval"])
	require.Equal(t, "7GiB", defaults["vm-memory"])
	require.Equal(t, "virtual-machine", defaults["instance-type"])
	for name, opt := range cfg.Options {
		require.NotEmpty(t, opt.Description, "option %s has no description", name)
	}

	// Juju refuses a float for an int and an unknown option.
	_, err = cfg.ValidateSettings(charm.Settings{"virtual-machines": float64(2)})
	require.Error(t, err)
	_, err = cfg.ValidateSettings(charm.Settings{"no-such-option": "x"})
	require.Error(t, err)
	got, err := cfg.ValidateSettings(charm.Settings{"virtual-machines": "3"})
	require.NoError(t, err)
	require.Equal(t, int64(3), got["virtual-machines"])
}

func TestActionSchemas(t *testing.T) {
	actions := readCharmDir(t).Actions().ActionSpecs
	want := []string{"build-image", "check-runners", "flush-runners", "reconcile-runners", "update-runner-bin"}
	var names []string
	for name := range actions {
		names = append(names, name)
	}
	sort.Strings(names)
	require.Equal(t, want, names)

	for _, name := range want {
		spec := actions[name]
		require.NotEmpty(t, spec.Description, name)
		require.NoError(t, spec.ValidateParams(map[string]any{}), name)
		require.Error(t, spec.ValidateParams(map[string]any{"unknown-param": 1}), "%s accepted an unknown param", name)
	}

	flush := actions["flush-runners"]
	params, err := flush.InsertDefaults(map[string]any{})
	require.NoError(t, err)
	require.Equal(t, false, params["flush-busy"])
	require.NoError(t, flush.ValidateParams(map[string]any{"flush-busy": true}))
	err = flush.ValidateParams(map[string]any{"flush-busy": "yes"})
	require.ErrorContains(t, err, "flush-busy")
	params, err = flush.InsertDefaults(map[string]any{"flush-busy": true})
	require.NoError(t, err)
	require.Equal(t, true, params["flush-busy"])
}
