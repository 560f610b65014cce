package githubtest_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"charm.example/github-runner/internal/github/githubtest"
)

// TestEnterpriseRunnersThroughGoGitHub drives the enterprise runner
// endpoints with go-github's EnterpriseService, as a client would.
func TestEnterpriseRunnersThroughGoGitHub(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	ctx := testContext(t, 20*time.Second)
	gh := newGitHub(t, srv, entToken)
	builds, err := srv.AddRunnerGroup(entPath, "builds")
	require.NoError(t, err)

	groups, _, err := gh.Enterprise.ListRunnerGroups(ctx, enterprise, nil)
	require.NoError(t, err)
	require.Equal(t, 2, groups.GetTotalCount())
	assert.Equal(t, githubtest.DefaultGroupName, groups.RunnerGroups[0].GetName())
	assert.True(t, groups.RunnerGroups[0].GetDefault())
	assert.Equal(t, builds, groups.RunnerGroups[1].GetID())
	assert.Contains(t, groups.RunnerGroups[1].GetRunnersURL(), "/enterprises/acme-corp/actions/runner-groups/")

	cfg, resp, err := gh.Enterprise.GenerateEnterpriseJITConfig(ctx, enterprise, &github.GenerateJITConfigRequest{
		Name: "ent-jit", RunnerGroupID: builds, Labels: []string{"self-hosted", "big"},
	})
	require.NoError(t, err)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "ent-jit", cfg.GetRunner().GetName())
	seen, ok := srv.Runner(cfg.GetRunner().GetID())
	require.True(t, ok)
	assert.Equal(t, builds, seen.GroupID)
	assert.Equal(t, entPath, seen.Path)
	info, err := githubtest.ParseJITConfig(cfg.GetEncodedJITConfig())
	require.NoError(t, err)
	assert.Equal(t, srv.WebURL(entPath), info.GitHubURL, "the runner's --url is the enterprise's web URL")

	runners, _, err := gh.Enterprise.ListRunners(ctx, enterprise, &github.ListOptions{PerPage: 10})
	require.NoError(t, err)
	require.Equal(t, 1, runners.TotalCount)
	assert.Equal(t, cfg.GetRunner().GetID(), runners.Runners[0].GetID())
	assert.Equal(t, "offline", runners.Runners[0].GetStatus())

	reg, resp, err := gh.Enterprise.CreateRegistrationToken(ctx, enterprise)
	require.NoError(t, err)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.NotEmpty(t, reg.GetToken())
	assert.WithinDuration(t, time.Now().Add(time.Hour), reg.GetExpiresAt().Time, time.Minute)

	downloads, _, err := gh.Enterprise.ListRunnerApplicationDownloads(ctx, enterprise)
	require.NoError(t, err)
	assert.NotEmpty(t, downloads)

	_, err = gh.Enterprise.RemoveRunner(ctx, enterprise, cfg.GetRunner().GetID())
	require.NoError(t, err)
	_, ok = srv.Runner(cfg.GetRunner().GetID())
	assert.False(t, ok)
	_, err = gh.Enterprise.RemoveRunner(ctx, enterprise, cfg.GetRunner().GetID())
	var ghErr *github.ErrorResponse
	require.True(t, errors.As(err, &ghErr), "%v", err)
	assert.Equal(t, http.StatusNotFound, ghErr.Response.StatusCode)

	t.Run("the endpoints go-github has no method for", func(t *testing.T) {
		r, err := srv.AddRunner(entPath, githubtest.RunnerSeed{Name: "seeded", Online: true, Labels: []string{"x"}})
		require.NoError(t, err)
		runner := fmt.Sprintf("%s/actions/runners/%d", entPath, r.ID)
		assert.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, runner, entToken, nil).Status)
		assert.Equal(t, http.StatusCreated, call(t, srv, http.MethodPost, entPath+"/actions/runners/remove-token", entToken, nil).Status)
		a := call(t, srv, http.MethodPost, runner+"/labels", entToken, map[string]any{"labels": []string{"y"}})
		require.Equal(t, http.StatusOK, a.Status)
		var labels struct {
			Labels []struct{ Name string } `json:"labels"`
		}
		a.json(t, &labels)
		assert.Len(t, labels.Labels, 5)
		assert.Equal(t, http.StatusOK, call(t, srv, http.MethodGet, fmt.Sprintf("%s/actions/runner-groups/%d", entPath, builds), entToken, nil).Status)
		assert.Equal(t, http.StatusNotFound, call(t, srv, http.MethodGet, entPath+"/actions/runner-groups/999", entToken, nil).Status)
	})
}

func TestEnterpriseScopes(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{Tokens: map[string][]string{
		adminToken:        {githubtest.ScopeAdminOrg, githubtest.ScopeRepo},
		entToken:          {githubtest.ScopeManageRunnersEnterprise},
		"ghp_entadmin":    {githubtest.ScopeAdminEnterprise},
		"ghp_readonlyent": {"read:enterprise"},
	}})
	r, err := srv.AddRunner(entPath, githubtest.RunnerSeed{Name: "ent-runner"})
	require.NoError(t, err)
	tests := []struct {
		name, path, token string
		want              int
		wantMessage       string
	}{
		{"manage_runners:enterprise", entPath + "/actions/runners", entToken, 200, ""},
		{"admin:enterprise includes it", entPath + "/actions/runners", "ghp_entadmin", 200, ""},
		{"read:enterprise is not enough", entPath + "/actions/runners", "ghp_readonlyent", 403,
			"You must be an enterprise admin or have the manage_runners:enterprise scope to use this endpoint."},
		{"admin:org is not enough", entPath + "/actions/runners", adminToken, 403,
			"You must be an enterprise admin or have the manage_runners:enterprise scope to use this endpoint."},
		{"the enterprise scope does not reach organizations", "orgs/acme/actions/runners", entToken, 403,
			"You must be an org admin or have the admin:org scope to use this endpoint."},
		{"unknown enterprise", "enterprises/nobody/actions/runners", entToken, 404, "Not Found"},
		{"an enterprise runner is not an organization's", fmt.Sprintf("orgs/acme/actions/runners/%d", r.ID), adminToken, 404, "Not Found"},
		{"repository runner groups do not exist", "repos/acme/website/actions/runner-groups", adminToken, 404, "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, srv, http.MethodGet, tt.path, tt.token, nil)
			require.Equal(t, tt.want, a.Status, "%s", a.Body)
			if tt.wantMessage != "" {
				assert.Equal(t, tt.wantMessage, a.message(t))
			}
		})
	}
	a := call(t, srv, http.MethodGet, entPath+"/actions/runners", entToken, nil)
	assert.Equal(t, githubtest.ScopeManageRunnersEnterprise, a.Header.Get("X-Accepted-OAuth-Scopes"))
}

// TestEnterpriseRunnersTakeTheirOrganizationsJobs checks the job routing:
// an enterprise's runners serve its organizations and their repositories,
// and no one else.
func TestEnterpriseRunnersTakeTheirOrganizationsJobs(t *testing.T) {
	t.Parallel()
	clock := githubtest.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := newServer(t, githubtest.Options{Clock: clock, Orgs: []string{"acme", "outsider"}, Repos: []string{"acme/website", "outsider/app"}})
	r, err := srv.AddRunner(entPath, githubtest.RunnerSeed{Name: "shared", Online: true, Labels: []string{"ent"}})
	require.NoError(t, err)

	for _, tt := range []struct {
		path string
		want bool
	}{
		{"acme/website", true},
		{"acme", true},
		{entPath, true},
		{"outsider/app", false},
		{"outsider", false},
		{"enterprises/other", false},
	} {
		t.Run(tt.path, func(t *testing.T) {
			id := srv.QueueJobFor(tt.path, []string{"ent"}, time.Second)
			j, ok := srv.Job(id)
			require.True(t, ok)
			if tt.want {
				assert.Equal(t, githubtest.JobInProgress, j.State)
				assert.Equal(t, r.ID, j.RunnerID)
				clock.Advance(time.Second)
				j, _ = srv.Job(id)
				assert.Equal(t, githubtest.JobCompleted, j.State)
			} else {
				assert.Equal(t, githubtest.JobQueued, j.State)
			}
		})
	}
}

func TestAddEnterprise(t *testing.T) {
	t.Parallel()
	srv := newServer(t, githubtest.Options{})
	require.NoError(t, srv.AddEnterprise("second", "beta"), "a new organization is made for it")
	require.NoError(t, srv.AddEnterprise("second", "beta"), "adding again changes nothing")
	assert.ErrorContains(t, srv.AddEnterprise("second", "acme"), "belongs to enterprises/acme-corp")
	assert.Error(t, srv.AddEnterprise("a/b"))
	assert.Error(t, srv.AddOrg("enterprises"), "the enterprises path is GitHub's")
	assert.Error(t, srv.AddRepo("enterprises/x"))
	_, err := srv.AddRunnerGroup("acme/website", "g")
	assert.Error(t, err, "a repository has no runner groups")
	_, err = srv.AddRunner("enterprises/second", githubtest.RunnerSeed{Name: "r"})
	assert.NoError(t, err)
	assert.Len(t, srv.Runners("enterprises/second"), 1)
}
