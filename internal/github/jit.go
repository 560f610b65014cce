package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v62/github"
)

// DefaultGroup is the runner group every organization has (id 1). Group names
// are matched without regard to case, as GitHub does.
const DefaultGroup = "default"

// defaultGroupID is the id of every scope's default runner group; repository
// runners always belong to it.
const defaultGroupID = 1

// maxLabels is GitHub's limit on labels per JIT request.
const maxLabels = 100

// JITRequest describes a just-in-time runner to create.
type JITRequest struct {
	// Name is the runner's name, unique in the scope.
	Name string
	// Labels are the custom labels (1 to 100); GitHub adds the read-only
	// ones (self-hosted, the OS, the architecture) itself.
	Labels []string
	// Group is the organization runner group's name; empty means
	// DefaultGroup. Repository runners always go to the default group and
	// Group is ignored for them.
	Group string
	// WorkFolder is the job directory relative to the runner's install
	// directory; empty lets GitHub use its default, `_work`.
	WorkFolder string
}

// JITConfig is a registered just-in-time runner and the configuration that
// lets exactly that runner connect. EncodedConfig is a secret: String,
// GoString, Format and LogValue never show it. Give it to the runner as
// `run.sh --jitconfig` or, better, as the ACTIONS_RUNNER_INPUT_JITCONFIG
// environment variable, which keeps it out of the process list.
type JITConfig struct {
	// Runner is the registered runner, offline until it connects.
	Runner Runner
	// EncodedConfig is the secret configuration for run.sh.
	EncodedConfig string
}

// String implements fmt.Stringer without the secret.
func (j JITConfig) String() string {
	return fmt.Sprintf("JITConfig{Runner:{ID:%d Name:%q} EncodedConfig:%s}", j.Runner.ID, j.Runner.Name, redacted)
}

// GoString implements fmt.GoStringer without the secret.
func (j JITConfig) GoString() string { return "github." + j.String() }

// Format implements fmt.Formatter so that no verb prints the secret.
func (j JITConfig) Format(f fmt.State, verb rune) { formatRedacted(f, verb, j.String(), j.GoString()) }

// LogValue implements slog.LogValuer without the secret.
func (j JITConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("runner_id", j.Runner.ID),
		slog.String("runner_name", j.Runner.Name),
		slog.String("encoded_config", redacted),
	)
}

// GenerateJITConfig registers a just-in-time runner and returns its
// configuration. The runner exists on GitHub at once, offline until its
// listener connects; it is de-registered after one job. In an organization
// the group name is turned into its id through the runner-group listing,
// cached in the Client; an unknown group is an *UnknownGroupError. A taken
// name is an error matching ErrConflict.
func (c *Client) GenerateJITConfig(ctx context.Context, r JITRequest) (JITConfig, error) {
	fail := func(err error) (JITConfig, error) {
		return JITConfig{}, fmt.Errorf("cannot create JIT runner %q in %s: %w", r.Name, c.scope, err)
	}
	switch {
	case strings.TrimSpace(r.Name) == "":
		return fail(fmt.Errorf("%w: the runner name is empty", ErrValidation))
	case len(r.Labels) == 0 || len(r.Labels) > maxLabels:
		return fail(fmt.Errorf("%w: %d labels given, want 1 to %d", ErrValidation, len(r.Labels), maxLabels))
	}
	groupID := int64(defaultGroupID)
	if c.scope.hasGroups() {
		id, err := c.groupID(ctx, r.Group)
		if err != nil {
			return fail(err)
		}
		groupID = id
	}
	body := &gh.GenerateJITConfigRequest{Name: r.Name, RunnerGroupID: groupID, Labels: r.Labels}
	if r.WorkFolder != "" {
		body.WorkFolder = &r.WorkFolder
	}
	endpoint := c.scope.endpoint(http.MethodPost, "/actions/runners/generate-jitconfig")
	out, _, err := call(ctx, c, endpoint, func(ctx context.Context) (*gh.JITRunnerConfig, *gh.Response, error) {
		if c.scope.IsEnterprise() {
			return c.gh.Enterprise.GenerateEnterpriseJITConfig(ctx, c.scope.enterprise, body)
		}
		if c.scope.IsOrg() {
			return c.gh.Actions.GenerateOrgJITConfig(ctx, c.scope.owner, body)
		}
		return c.gh.Actions.GenerateRepoJITConfig(ctx, c.scope.owner, c.scope.repo, body)
	})
	if err != nil {
		if c.scope.hasGroups() && errors.Is(err, ErrValidation) {
			// The group may have gone since it was cached.
			c.forgetGroup(r.Group)
		}
		return fail(err)
	}
	if out.GetEncodedJITConfig() == "" {
		return fail(fmt.Errorf("%s: the answer holds no configuration", endpoint))
	}
	return JITConfig{Runner: runnerFrom(out.GetRunner()), EncodedConfig: out.GetEncodedJITConfig()}, nil
}

func groupKey(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		name = DefaultGroup
	}
	return strings.ToLower(name)
}

// groupID resolves an organization runner group's name, from the cache or,
// on a miss, from a fresh listing.
func (c *Client) groupID(ctx context.Context, name string) (int64, error) {
	key := groupKey(name)
	if id, ok := c.cachedGroup(key); ok {
		return id, nil
	}
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	// Another caller may have refreshed while this one waited.
	if id, ok := c.cachedGroup(key); ok {
		return id, nil
	}
	groups, err := c.listGroups(ctx)
	if err != nil {
		return 0, err
	}
	c.groupsMu.Lock()
	c.groups = groups
	c.groupsMu.Unlock()
	if id, ok := groups[key]; ok {
		return id, nil
	}
	if name == "" {
		name = DefaultGroup
	}
	return 0, &UnknownGroupError{Org: c.scope.groupOwner(), Group: name}
}

func (c *Client) cachedGroup(key string) (int64, bool) {
	c.groupsMu.Lock()
	defer c.groupsMu.Unlock()
	id, ok := c.groups[key]
	return id, ok
}

func (c *Client) forgetGroup(name string) {
	c.groupsMu.Lock()
	delete(c.groups, groupKey(name))
	c.groupsMu.Unlock()
}

// listGroups reads every page of the organization's or enterprise's runner
// groups.
func (c *Client) listGroups(ctx context.Context) (map[string]int64, error) {
	out := make(map[string]int64)
	for page := 1; page != 0; {
		if page > maxListPages {
			return nil, fmt.Errorf("cannot list runner groups of %s: more than %d pages", c.scope, maxListPages)
		}
		opts := &gh.ListOrgRunnerGroupOptions{ListOptions: gh.ListOptions{Page: page, PerPage: listPageSize}}
		endpoint := c.scope.endpoint(http.MethodGet, "/actions/runner-groups")
		list, resp, err := call(ctx, c, endpoint, func(ctx context.Context) (*gh.RunnerGroups, *gh.Response, error) {
			if c.scope.IsEnterprise() {
				ent, resp, err := c.gh.Enterprise.ListRunnerGroups(ctx, c.scope.enterprise,
					&gh.ListEnterpriseRunnerGroupOptions{ListOptions: opts.ListOptions})
				if err != nil || ent == nil {
					return nil, resp, err
				}
				out := &gh.RunnerGroups{TotalCount: ent.GetTotalCount()}
				for _, g := range ent.RunnerGroups {
					out.RunnerGroups = append(out.RunnerGroups, &gh.RunnerGroup{ID: g.ID, Name: g.Name})
				}
				return out, resp, nil
			}
			return c.gh.Actions.ListOrganizationRunnerGroups(ctx, c.scope.owner, opts)
		})
		if err != nil {
			return nil, fmt.Errorf("cannot list runner groups of %s: %w", c.scope, err)
		}
		if list != nil {
			for _, g := range list.RunnerGroups {
				out[strings.ToLower(g.GetName())] = g.GetID()
			}
		}
		if resp.NextPage != 0 && resp.NextPage <= page {
			return nil, fmt.Errorf("cannot list runner groups of %s: page %d links back to page %d", c.scope, page, resp.NextPage)
		}
		page = resp.NextPage
	}
	return out, nil
}
