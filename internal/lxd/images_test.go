package lxd_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/lxd"
	"charm.example/github-runner/internal/lxd/lxdtest"
)

// deleteImageLater deletes an image (and nothing else) when the test ends.
func deleteImageLater(t *testing.T, c *lxd.Client, fingerprint string) {
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		op, err := c.DeleteImage(ctx, fingerprint)
		if err == nil {
			err = op.Wait(ctx)
		}
		if err != nil && !errors.Is(err, lxd.ErrNotFound) {
			t.Errorf("cannot delete image %s: %v", fingerprint, err)
		}
	})
}

// deleteAliasLater deletes an alias when the test ends.
func deleteAliasLater(t *testing.T, c *lxd.Client, alias string) {
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := c.DeleteImageAlias(ctx, alias); err != nil && !errors.Is(err, lxd.ErrNotFound) {
			t.Errorf("cannot delete image alias %s: %v", alias, err)
		}
	})
}

func TestPublishAndAliasSwap(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, 90*time.Second)
	alias := lxdtest.UniqueName("alias")
	deleteAliasLater(t, c, alias)
	renamed := alias + "-renamed"
	deleteAliasLater(t, c, renamed)

	// An instance that was never started is a stopped one: publish it twice,
	// with different content.
	src := newInstance(t, c, "publish")
	op, err := c.CreateInstance(ctx, src)
	require.NoError(t, err)
	require.NoError(t, op.Wait(ctx))
	publish := func(marker string, aliases ...string) string {
		t.Helper()
		require.NoError(t, c.CreateInstanceFile(ctx, src.Name, "/marker", lxd.InstanceFileArgs{Content: strings.NewReader(marker)}))
		fp, err := c.PublishInstance(ctx, src.Name, lxd.PublishArgs{Aliases: aliases, Properties: map[string]string{"description": marker}})
		require.NoError(t, err)
		deleteImageLater(t, c, fp)
		return fp
	}
	markerA, markerB := "A-"+alias, "B-"+alias
	fpA := publish(markerA, alias)
	fpB := publish(markerB)
	require.NotEqual(t, fpA, fpB)

	img, err := c.GetImage(ctx, fpA)
	require.NoError(t, err)
	require.Equal(t, fpA, img.Fingerprint)
	require.Equal(t, markerA, img.Properties["description"])
	require.Equal(t, []lxd.ImageAlias{{Name: alias}}, img.Aliases)
	imgs, err := c.GetImages(ctx)
	require.NoError(t, err)
	var fps []string
	for _, i := range imgs {
		fps = append(fps, i.Fingerprint)
	}
	require.Contains(t, fps, fpA)
	require.Contains(t, fps, fpB)

	a, err := c.GetImageAlias(ctx, alias)
	require.NoError(t, err)
	require.Equal(t, fpA, a.Target)

	// Swap the alias to the new image: new instances get the new content.
	require.NoError(t, c.SetImageAlias(ctx, alias, fpB))
	a, err = c.GetImageAlias(ctx, alias)
	require.NoError(t, err)
	require.Equal(t, fpB, a.Target)
	require.NoError(t, c.SetImageAlias(ctx, alias, fpB), "setting it again changes nothing")

	dst := newInstance(t, c, "from-alias")
	dst.Source = lxd.LocalImage(alias)
	require.NoError(t, c.LaunchInstance(ctx, dst))
	got, _ := readFile(t, c, dst.Name, "/marker")
	require.Equal(t, markerB, string(got))

	// Retarget with PUT, rename, conflicts.
	require.NoError(t, c.UpdateImageAlias(ctx, alias, lxd.ImageAliasesEntryPut{Target: fpA, Description: "back to A"}))
	a, err = c.GetImageAlias(ctx, alias)
	require.NoError(t, err)
	require.Equal(t, fpA, a.Target)
	require.Equal(t, "back to A", a.Description)

	require.NoError(t, c.RenameImageAlias(ctx, alias, lxd.ImageAliasesEntryPost{Name: renamed}))
	_, err = c.GetImageAlias(ctx, alias)
	require.ErrorIs(t, err, lxd.ErrNotFound)
	a, err = c.GetImageAlias(ctx, renamed)
	require.NoError(t, err)
	require.Equal(t, fpA, a.Target)
	require.Equal(t, "back to A", a.Description)
	require.ErrorIs(t, c.RenameImageAlias(ctx, alias, lxd.ImageAliasesEntryPost{Name: "x"}), lxd.ErrNotFound)
	require.NoError(t, c.CreateImageAlias(ctx, lxd.ImageAliasesPost{ImageAliasesEntry: lxd.ImageAliasesEntry{Name: alias, ImageAliasesEntryPut: lxd.ImageAliasesEntryPut{Target: fpB}}}))
	require.ErrorIs(t, c.RenameImageAlias(ctx, alias, lxd.ImageAliasesEntryPost{Name: renamed}), lxd.ErrConflict)
	a, err = c.GetImageAlias(ctx, alias)
	require.NoError(t, err, "a failed rename keeps the old alias")
	require.Equal(t, fpB, a.Target)

	err = c.CreateImageAlias(ctx, lxd.ImageAliasesPost{ImageAliasesEntry: lxd.ImageAliasesEntry{Name: renamed, ImageAliasesEntryPut: lxd.ImageAliasesEntryPut{Target: fpB}}})
	require.ErrorIs(t, err, lxd.ErrConflict)
	err = c.SetImageAlias(ctx, renamed, "0000000000000000000000000000000000000000000000000000000000000000")
	require.ErrorIs(t, err, lxd.ErrNotFound, "an alias cannot point at a missing image")

	// Deletion.
	require.NoError(t, c.DeleteImageAlias(ctx, renamed))
	require.ErrorIs(t, c.DeleteImageAlias(ctx, renamed), lxd.ErrNotFound)
	op, err = c.DeleteImage(ctx, fpA)
	require.NoError(t, err)
	require.NoError(t, op.Wait(ctx))
	_, err = c.GetImage(ctx, fpA)
	require.ErrorIs(t, err, lxd.ErrNotFound)
}

// imageTarball builds a minimal unified image: metadata.yaml and a rootfs
// holding one marker file.
func imageTarball(t *testing.T, arch, marker string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name string, mode int64, typ byte, body string) {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Typeflag: typ, Size: int64(len(body)), ModTime: time.Unix(0, 0)}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	add("metadata.yaml", 0o644, tar.TypeReg, fmt.Sprintf("architecture: %s\ncreation_date: %d\nproperties:\n  description: %s\n", arch, time.Now().Unix(), marker))
	add("rootfs/", 0o755, tar.TypeDir, "")
	add("rootfs/marker", 0o644, tar.TypeReg, marker)
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

func TestImportImage(t *testing.T) {
	t.Parallel()
	c := connect(t)
	ctx := testCtx(t, time.Minute)
	srv, err := c.GetServer(ctx)
	require.NoError(t, err)
	alias := lxdtest.UniqueName("import")
	deleteAliasLater(t, c, alias)
	tarball := imageTarball(t, srv.Environment.KernelArchitecture, alias)
	sum := sha256.Sum256(tarball)

	fp, err := c.ImportImage(ctx, bytes.NewReader(tarball), lxd.ImportArgs{Aliases: []string{alias}, Filename: "test.tar.gz"})
	require.NoError(t, err)
	deleteImageLater(t, c, fp)
	require.Equal(t, hex.EncodeToString(sum[:]), fp)

	img, err := c.GetImage(ctx, fp)
	require.NoError(t, err)
	require.Equal(t, alias, img.Properties["description"])
	require.Equal(t, "container", img.Type)
	a, err := c.GetImageAlias(ctx, alias)
	require.NoError(t, err)
	require.Equal(t, fp, a.Target)

	// The same tarball again is a conflict.
	_, err = c.ImportImage(ctx, bytes.NewReader(tarball), lxd.ImportArgs{})
	require.ErrorIs(t, err, lxd.ErrConflict)

	// An instance made from it (not started: there is no init) holds the
	// image's files.
	req := newInstance(t, c, "imported")
	req.Source = lxd.LocalImage(alias)
	op, err := c.CreateInstance(ctx, req)
	require.NoError(t, err)
	require.NoError(t, op.Wait(ctx))
	got, _ := readFile(t, c, req.Name, "/marker")
	require.Equal(t, alias, string(got))

	// A tarball that is not an image fails the operation.
	_, err = c.ImportImage(ctx, strings.NewReader("not a tarball"), lxd.ImportArgs{})
	var oe *lxd.OperationError
	require.ErrorAs(t, err, &oe)
	require.NotErrorIs(t, err, lxd.ErrConflict)
}
