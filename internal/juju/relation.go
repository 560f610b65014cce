package juju

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Errors of the relation calls, before any tool runs.
var (
	// ErrEmptyRelationKey is returned by RelationSet for an empty key.
	ErrEmptyRelationKey = errors.New("empty relation data key")
	// ErrEmptyEndpoint is returned by RelationIDs for an empty endpoint name.
	ErrEmptyEndpoint = errors.New("empty relation endpoint name")
)

// ErrRelationNotFound: the relation id names no relation of this unit (it
// never existed, or it is gone).
var ErrRelationNotFound = errors.New("relation not found")

// RelationIDs lists the ids of this unit's relations on endpoint
// (`relation-ids <endpoint>`), sorted, such as ["cos-agent:3"]. A relation
// being broken is still listed in its own -broken hook.
func (c *Client) RelationIDs(ctx context.Context, endpoint string) ([]string, error) {
	if endpoint == "" {
		return nil, ErrEmptyEndpoint
	}
	var ids []string
	if err := c.runJSON(ctx, "relation-ids", []string{"--", endpoint}, &ids); err != nil {
		return nil, err
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// RelationUnits lists the remote units in a relation (`relation-list`),
// such as ["grafana-agent/0"]. An empty relationID means the hook's own
// relation (JUJU_RELATION_ID); outside a relation hook it must be given.
// In a -departed hook the departing unit is no longer listed.
func (c *Client) RelationUnits(ctx context.Context, relationID string) ([]string, error) {
	var units []string
	if err := c.runJSON(ctx, "relation-list", relationArgs(relationID, false), &units); err != nil {
		return nil, err
	}
	if units == nil {
		units = []string{}
	}
	return units, nil
}

// RelationApp is the application at the other end of a relation
// (`relation-list --app`); an empty relationID means the hook's relation.
func (c *Client) RelationApp(ctx context.Context, relationID string) (string, error) {
	var app string
	if err := c.runJSON(ctx, "relation-list", relationArgs(relationID, true), &app); err != nil {
		return "", err
	}
	return app, nil
}

// RelationGetOptions name the databag relation-get reads.
type RelationGetOptions struct {
	// RelationID is the relation (`cos-agent:3`); empty means the hook's
	// own relation.
	RelationID string
	// App reads an application's databag instead of a unit's.
	App bool
	// Owner is whose databag: a unit name, or with App an application name
	// (a unit name then stands for its application). Empty means the hook's
	// remote unit, or with App its remote application. A unit reads its own
	// data by giving its own name (Env.UnitName); only the leader may read
	// its own application's databag (ErrPermissionDenied otherwise).
	Owner string
}

// RelationGet reads a whole relation databag (`relation-get - <owner>`).
// Values are strings, as Juju keeps them. Within a hook this unit's own
// databags include the hook's writes.
func (c *Client) RelationGet(ctx context.Context, opts RelationGetOptions) (map[string]string, error) {
	var m map[string]string
	if err := c.runJSON(ctx, "relation-get", relationGetArgs(opts, "-"), &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]string{}
	}
	return m, nil
}

// RelationValue reads one key of a relation databag; ok is false when the
// key is not set.
func (c *Client) RelationValue(ctx context.Context, opts RelationGetOptions, key string) (value string, ok bool, err error) {
	if key == "" || key == "-" {
		return "", false, fmt.Errorf("cannot read relation data key %q: %w", key, ErrEmptyRelationKey)
	}
	var v *string
	if err := c.runJSON(ctx, "relation-get", relationGetArgs(opts, key), &v); err != nil {
		return "", false, err
	}
	if v == nil {
		return "", false, nil
	}
	return *v, true, nil
}

// RelationSetOptions name the databag relation-set writes: always this
// unit's own, or with App its application's.
type RelationSetOptions struct {
	// RelationID is the relation; empty means the hook's own relation.
	RelationID string
	// App writes the application databag; only the leader may
	// (ErrNotLeader otherwise).
	App bool
}

// RelationSet writes keys of this unit's (or, with opts.App, this
// application's) databag in a relation; an empty value deletes the key.
// The values go to relation-set as a YAML map on standard input (`--file
// -`), so a value of any size or content is stored exactly and none
// appears in argv. Like state-set, the writes are kept only if the hook
// succeeds; the remote units see them in their -changed hooks.
func (c *Client) RelationSet(ctx context.Context, opts RelationSetOptions, values map[string]string) error {
	if len(values) == 0 {
		return nil
	}
	for k := range values {
		if k == "" {
			return ErrEmptyRelationKey
		}
	}
	doc, err := json.Marshal(values) // JSON is YAML
	if err != nil {
		return fmt.Errorf("cannot encode relation data: %w", err)
	}
	args := relationArgs(opts.RelationID, opts.App)
	args = append(args, "--file", "-")
	_, err = c.run(ctx, "relation-set", args, doc)
	return err
}

// relationArgs are the -r and --app flags.
func relationArgs(relationID string, app bool) []string {
	var args []string
	if relationID != "" {
		args = append(args, "-r", relationID)
	}
	if app {
		args = append(args, "--app")
	}
	return args
}

func relationGetArgs(opts RelationGetOptions, key string) []string {
	args := relationArgs(opts.RelationID, opts.App)
	args = append(args, "--", key)
	if opts.Owner != "" {
		args = append(args, opts.Owner)
	}
	return args
}

// isRelationNotFound says whether a tool's message is Juju's for an unknown
// relation id given with -r.
func isRelationNotFound(msg string) bool {
	return strings.HasSuffix(msg, "relation not found") || strings.HasSuffix(msg, "unknown relation id")
}
