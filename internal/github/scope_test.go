package github_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github"
)

func TestParsePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path      string
		wantOrg   bool
		wantOwner string
		wantRepo  string
		wantErr   string
	}{
		{path: "acme", wantOrg: true, wantOwner: "acme"},
		{path: "  acme-corp \n", wantOrg: true, wantOwner: "acme-corp"},
		{path: "a", wantOrg: true, wantOwner: "a"},
		{path: "Acme9/web.site_2-x", wantOwner: "Acme9", wantRepo: "web.site_2-x"},
		{path: strings.Repeat("a", 39), wantOrg: true, wantOwner: strings.Repeat("a", 39)},
		{path: "o/" + strings.Repeat("r", 100), wantOwner: "o", wantRepo: strings.Repeat("r", 100)},
		{path: "o/.github", wantOwner: "o", wantRepo: ".github"},
		{path: "", wantErr: "it is empty"},
		{path: "   ", wantErr: "it is empty"},
		{path: strings.Repeat("a", 40), wantErr: "longer than 39"},
		{path: "-acme", wantErr: "must not start with a hyphen"},
		{path: "acme-", wantErr: "must not end with a hyphen"},
		{path: "ac--me", wantErr: "consecutive hyphens"},
		{path: "ac_me", wantErr: "only letters, digits and hyphens"},
		{path: "acmé", wantErr: "only letters, digits and hyphens"},
		{path: "acme/", wantErr: "repository name is empty"},
		{path: "/repo", wantErr: "owner or organization name is empty"},
		{path: "a/b/c", wantErr: "found 3 parts"},
		{path: "o/.", wantErr: "reserved"},
		{path: "o/..", wantErr: "reserved"},
		{path: "o/" + strings.Repeat("r", 101), wantErr: "longer than 100"},
		{path: "o/re po", wantErr: "only letters, digits"},
		{path: "o/repo.git", wantErr: "must not end in .git"},
		{path: "https://github.com/acme", wantErr: "not a URL"},
		{path: "github.com/acme/x", wantErr: "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s, err := github.ParsePath(tt.path)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.True(t, errors.Is(err, github.ErrInvalidPath))
				var pe *github.PathError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tt.path, pe.Path)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.True(t, s.IsZero())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantOrg, s.IsOrg())
			assert.Equal(t, tt.wantOwner, s.Owner())
			assert.Equal(t, tt.wantRepo, s.Repo())
			if tt.wantOrg {
				assert.Equal(t, tt.wantOwner, s.Org())
				assert.Equal(t, tt.wantOwner, s.String())
			} else {
				assert.Empty(t, s.Org())
				assert.Equal(t, tt.wantOwner+"/"+tt.wantRepo, s.String())
			}
		})
	}
}
