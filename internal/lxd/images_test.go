package lxd_test

import (
	"errors"
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
	img, err = c.GetImage(ctx, fpB)
	require.NoError(t, err)
	require.Equal(t, fpB, img.Fingerprint)
	require.Equal(t, markerB, img.Properties["description"])
	require.Empty(t, img.Aliases)

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

	// Retarget with PUT, conflicts.
	require.NoError(t, c.UpdateImageAlias(ctx, alias, lxd.ImageAliasesEntryPut{Target: fpA, Description: "back to A"}))
	a, err = c.GetImageAlias(ctx, alias)
	require.NoError(t, err)
	require.Equal(t, fpA, a.Target)
	require.Equal(t, "back to A", a.Description)

	err = c.CreateImageAlias(ctx, lxd.ImageAliasesPost{ImageAliasesEntry: lxd.ImageAliasesEntry{Name: alias, ImageAliasesEntryPut: lxd.ImageAliasesEntryPut{Target: fpB}}})
	require.ErrorIs(t, err, lxd.ErrConflict)
	a, err = c.GetImageAlias(ctx, alias)
	require.NoError(t, err)
	require.Equal(t, fpA, a.Target, "a refused creation leaves the alias as it was")
	err = c.SetImageAlias(ctx, alias, "0000000000000000000000000000000000000000000000000000000000000000")
	require.ErrorIs(t, err, lxd.ErrNotFound, "an alias cannot point at a missing image")

	// Deletion.
	require.NoError(t, c.DeleteImageAlias(ctx, alias))
	require.ErrorIs(t, c.DeleteImageAlias(ctx, alias), lxd.ErrNotFound)
	op, err = c.DeleteImage(ctx, fpA)
	require.NoError(t, err)
	require.NoError(t, op.Wait(ctx))
	_, err = c.GetImage(ctx, fpA)
	require.ErrorIs(t, err, lxd.ErrNotFound)
}
