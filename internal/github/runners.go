package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
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

// runnerJSON is GitHub's runner object.
type runnerJSON struct {
	ID            int64       `json:"id"`
	RunnerGroupID int64       `json:"runner_group_id,omitempty"`
	Name          string      `json:"name"`
	OS            string      `json:"os"`
	Status        string      `json:"status"`
	Busy          bool        `json:"busy"`
	Labels        []labelJSON `json:"labels"`
}

type labelJSON struct {
	ID   int64  `json:"id,omitempty"`
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

func (r runnerJSON) runner() Runner {
	out := Runner{
		ID:     r.ID,
		Name:   r.Name,
		OS:     r.OS,
		Status: r.Status,
		Busy:   r.Busy,
		Labels: make([]string, 0, len(r.Labels)),
	}
	for _, l := range r.Labels {
		out.Labels = append(out.Labels, l.Name)
	}
	return out
}

// runnersPage is one page of a runner listing.
type runnersPage struct {
	TotalCount int          `json:"total_count"`
	Runners    []runnerJSON `json:"runners"`
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
	var out []Runner
	seen := make(map[int64]bool)
	for page := 1; page != 0; {
		if page > maxListPages {
			return nil, fmt.Errorf("cannot list runners of %s: more than %d pages", c.scope, maxListPages)
		}
		path := fmt.Sprintf("%s/actions/runners?per_page=%d&page=%d", c.scope.apiPrefix(), listPageSize, page)
		req, endpoint, err := c.newRequest(http.MethodGet, path, nil)
		if err != nil {
			return nil, fmt.Errorf("cannot list runners of %s: %w", c.scope, err)
		}
		var body runnersPage
		resp, err := c.do(ctx, endpoint, req, &body)
		if err != nil {
			return nil, fmt.Errorf("cannot list runners of %s: %w", c.scope, err)
		}
		for _, r := range body.Runners {
			if seen[r.ID] || !strings.HasPrefix(r.Name, namePrefix) {
				continue
			}
			seen[r.ID] = true
			out = append(out, r.runner())
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
	req, endpoint, err := c.newRequest(http.MethodGet, fmt.Sprintf("%s/actions/runners/%d", c.scope.apiPrefix(), id), nil)
	if err != nil {
		return Runner{}, fmt.Errorf("cannot get runner %d of %s: %w", id, c.scope, err)
	}
	var body runnerJSON
	if _, err := c.do(ctx, endpoint, req, &body); err != nil {
		return Runner{}, fmt.Errorf("cannot get runner %d of %s: %w", id, c.scope, err)
	}
	return body.runner(), nil
}

// DeleteRunner de-registers a runner. A runner that is already gone (404) is
// not an error; one running a job (422) is an error matching ErrBusy.
func (c *Client) DeleteRunner(ctx context.Context, id int64) error {
	req, endpoint, err := c.newRequest(http.MethodDelete, fmt.Sprintf("%s/actions/runners/%d", c.scope.apiPrefix(), id), nil)
	if err != nil {
		return fmt.Errorf("cannot delete runner %d of %s: %w", id, c.scope, err)
	}
	_, err = c.do(ctx, endpoint, req, nil)
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
