package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v62/github"
)

// Runner statuses as GitHub reports them.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// Runner is a self-hosted runner as GitHub sees it.
type Runner struct {
	// ID is GitHub's id of the runner, unique across GitHub.
	ID int64
	// Name is unique in the scope.
	Name string
	// OS is what the runner reported ("Linux"), or "unknown" before its
	// first connection.
	OS string
	// Status is StatusOnline or StatusOffline.
	Status string
	// Busy is true while the runner runs a job.
	Busy bool
	// Labels are all label names, read-only ones (self-hosted, Linux, X64)
	// and custom ones.
	Labels []string
}

// Online reports whether the runner's listener is connected to GitHub.
// A runner that was just created may not be online yet.
func (r Runner) Online() bool { return r.Status == StatusOnline }

// Idle reports whether the runner is online and not running a job.
func (r Runner) Idle() bool { return r.Online() && !r.Busy }

// runnerFrom converts go-github's runner; r may be nil.
func runnerFrom(r *gh.Runner) Runner {
	if r == nil {
		return Runner{}
	}
	out := Runner{
		ID:     r.GetID(),
		Name:   r.GetName(),
		OS:     r.GetOS(),
		Status: r.GetStatus(),
		Busy:   r.GetBusy(),
		Labels: make([]string, 0, len(r.Labels)),
	}
	for _, l := range r.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

// listPageSize is GitHub's largest page.
const listPageSize = 100

// maxListPages stops a listing that never ends (10,000 pages of 100 is far
// beyond any real scope), so a misbehaving server cannot loop the client.
const maxListPages = 10000

// ListRunners returns every runner of the scope whose name starts with
// namePrefix ("" for all), reading all pages of 100. GitHub's `name`
// parameter is an exact match, so the prefix is applied here. A runner that
// moves between pages while they are read is returned once.
func (c *Client) ListRunners(ctx context.Context, namePrefix string) ([]Runner, error) {
	endpoint := c.scope.endpoint(http.MethodGet, "/actions/runners")
	var out []Runner
	seen := make(map[int64]bool)
	for page := 1; page != 0; {
		if page > maxListPages {
			return nil, fmt.Errorf("cannot list runners of %s: more than %d pages", c.scope, maxListPages)
		}
		opts := &gh.ListRunnersOptions{ListOptions: gh.ListOptions{Page: page, PerPage: listPageSize}}
		list, resp, err := call(ctx, c, endpoint, func(ctx context.Context) (*gh.Runners, *gh.Response, error) {
			if c.scope.IsEnterprise() {
				return c.gh.Enterprise.ListRunners(ctx, c.scope.enterprise, &opts.ListOptions)
			}
			if c.scope.IsOrg() {
				return c.gh.Actions.ListOrganizationRunners(ctx, c.scope.owner, opts)
			}
			return c.gh.Actions.ListRunners(ctx, c.scope.owner, c.scope.repo, opts)
		})
		if err != nil {
			return nil, fmt.Errorf("cannot list runners of %s: %w", c.scope, err)
		}
		if list != nil {
			for _, r := range list.Runners {
				if seen[r.GetID()] || !strings.HasPrefix(r.GetName(), namePrefix) {
					continue
				}
				seen[r.GetID()] = true
				out = append(out, runnerFrom(r))
			}
		}
		next := resp.NextPage
		if next != 0 && next <= page {
			return nil, fmt.Errorf("cannot list runners of %s: page %d links back to page %d", c.scope, page, next)
		}
		page = next
	}
	return out, nil
}

// GetRunner returns one runner; an unknown id is an error matching
// ErrNotFound.
func (c *Client) GetRunner(ctx context.Context, id int64) (Runner, error) {
	endpoint := c.scope.endpoint(http.MethodGet, "/actions/runners/{runner_id}")
	r, _, err := call(ctx, c, endpoint, func(ctx context.Context) (*gh.Runner, *gh.Response, error) {
		if c.scope.IsEnterprise() {
			// go-github has no method for this one; its request and typed
			// answer serve.
			var out gh.Runner
			resp, err := c.enterpriseDo(ctx, http.MethodGet, fmt.Sprintf("actions/runners/%d", id), &out)
			return &out, resp, err
		}
		if c.scope.IsOrg() {
			return c.gh.Actions.GetOrganizationRunner(ctx, c.scope.owner, id)
		}
		return c.gh.Actions.GetRunner(ctx, c.scope.owner, c.scope.repo, id)
	})
	if err != nil {
		return Runner{}, fmt.Errorf("cannot get runner %d of %s: %w", id, c.scope, err)
	}
	return runnerFrom(r), nil
}

// DeleteRunner de-registers a runner. A runner that is already gone (404) is
// not an error; one running a job (422) is an error matching ErrBusy.
func (c *Client) DeleteRunner(ctx context.Context, id int64) error {
	endpoint := c.scope.endpoint(http.MethodDelete, "/actions/runners/{runner_id}")
	_, _, err := call(ctx, c, endpoint, func(ctx context.Context) (struct{}, *gh.Response, error) {
		if c.scope.IsEnterprise() {
			resp, err := c.gh.Enterprise.RemoveRunner(ctx, c.scope.enterprise, id)
			return struct{}{}, resp, err
		}
		if c.scope.IsOrg() {
			resp, err := c.gh.Actions.RemoveOrganizationRunner(ctx, c.scope.owner, id)
			return struct{}{}, resp, err
		}
		resp, err := c.gh.Actions.RemoveRunner(ctx, c.scope.owner, c.scope.repo, id)
		return struct{}{}, resp, err
	})
	var apiErr *APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		c.logger.DebugContext(ctx, "runner already deleted", "scope", c.scope.String(), "runner_id", id)
		return nil
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusUnprocessableEntity:
		apiErr.Kind = ErrBusy
		return fmt.Errorf("cannot delete runner %d of %s: %w", id, c.scope, apiErr)
	default:
		return fmt.Errorf("cannot delete runner %d of %s: %w", id, c.scope, err)
	}
}

// enterpriseDo sends a request go-github has no method for to the
// enterprise's path rel (below /enterprises/{enterprise}/), decoding the
// answer into out through go-github's own request pipeline.
func (c *Client) enterpriseDo(ctx context.Context, method, rel string, out any) (*gh.Response, error) {
	req, err := c.gh.NewRequest(method, fmt.Sprintf("enterprises/%s/%s", c.scope.enterprise, rel), nil)
	if err != nil {
		return nil, err
	}
	return c.gh.Do(ctx, req, out)
}
