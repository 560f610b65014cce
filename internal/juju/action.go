package juju

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ActionParams are the running action's parameters, defaults included.
// Numbers are json.Number. Outside an action: ErrNotAction.
func (c *Client) ActionParams(ctx context.Context) (map[string]any, error) {
	var m map[string]any
	if err := c.runJSON(ctx, "action-get", nil, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// ActionParam is one parameter; key may name a nested one with dots
// (`a.b`). A missing key gives nil.
func (c *Client) ActionParam(ctx context.Context, key string) (any, error) {
	var v any
	if err := c.runJSON(ctx, "action-get", []string{"--", key}, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// Errors of ValidateActionKey, under *ActionKeyError.
var (
	ErrActionKeyInvalid  = errors.New("invalid action result key")
	ErrActionKeyReserved = errors.New("reserved action result key")
)

// ActionKeyError is a result key action-set would refuse.
type ActionKeyError struct {
	// Key is the whole dotted key.
	Key string
	// Segment is the part of it that is wrong.
	Segment string
	// Err is ErrActionKeyInvalid or ErrActionKeyReserved.
	Err error
}

// Error says what action-set would say.
func (e *ActionKeyError) Error() string {
	if errors.Is(e.Err, ErrActionKeyReserved) {
		return fmt.Sprintf("cannot set reserved action key %q", e.Segment)
	}
	return fmt.Sprintf("key %q must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods", e.Segment)
}

// Unwrap gives ErrActionKeyInvalid or ErrActionKeyReserved.
func (e *ActionKeyError) Unwrap() error { return e.Err }

var actionKeyRule = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

// ReservedActionKeys are result keys Juju keeps for itself.
func ReservedActionKeys() []string {
	return []string{"stdout", "stdout-encoding", "stderr", "stderr-encoding"}
}

// ValidateActionKey checks a dotted result key as action-set does: each
// segment lowercase alphanumeric and inner hyphens, none reserved.
func ValidateActionKey(key string) error {
	for _, seg := range strings.Split(key, ".") {
		if !actionKeyRule.MatchString(seg) {
			return &ActionKeyError{Key: key, Segment: seg, Err: ErrActionKeyInvalid}
		}
		if slices.Contains(ReservedActionKeys(), seg) {
			return &ActionKeyError{Key: key, Segment: seg, Err: ErrActionKeyReserved}
		}
	}
	return nil
}

// ActionSet adds results to the running action. Keys may nest with dots
// (`runners.online`), and values may be nested maps, which are flattened
// the same way. Values become strings, as Juju stores them. Every key is
// checked before the tool runs; a bad one gives an *ActionKeyError and
// nothing is set.
func (c *Client) ActionSet(ctx context.Context, results map[string]any) error {
	flat := map[string]string{}
	if err := flatten("", results, flat); err != nil {
		return err
	}
	if len(flat) == 0 {
		return nil
	}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		if err := ValidateActionKey(k); err != nil {
			return err
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := make([]string, 0, len(keys)+1)
	args = append(args, "--")
	for _, k := range keys {
		args = append(args, k+"="+flat[k])
	}
	_, err := c.run(ctx, "action-set", args, nil)
	return err
}

func flatten(prefix string, m map[string]any, out map[string]string) error {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch t := v.(type) {
		case map[string]any:
			if err := flatten(key, t, out); err != nil {
				return err
			}
		case map[string]string:
			for sk, sv := range t {
				out[key+"."+sk] = sv
			}
		default:
			out[key] = stringify(v)
		}
	}
	return nil
}

func stringify(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case fmt.Stringer:
		return t.String()
	case error:
		return t.Error()
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// ActionFail marks the running action failed with msg (Juju's default
// message when empty). The action goes on; the last call wins.
func (c *Client) ActionFail(ctx context.Context, msg string) error {
	args := []string{}
	if msg != "" {
		args = append(args, "--", msg)
	}
	_, err := c.run(ctx, "action-fail", args, nil)
	return err
}

// ActionLog reports progress of the running action to `juju run`.
func (c *Client) ActionLog(ctx context.Context, msg string) error {
	_, err := c.run(ctx, "action-log", []string{"--", msg}, nil)
	return err
}
