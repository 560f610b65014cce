package lxd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// GetProfile returns a profile and its ETag.
func (c *Client) GetProfile(ctx context.Context, name string) (*Profile, string, error) {
	var p Profile
	etag, err := c.query(ctx, request{method: http.MethodGet, path: profilePath(name)}, &p)
	if err != nil {
		return nil, "", fmt.Errorf("cannot get profile %q: %w", name, err)
	}
	return &p, etag, nil
}

// CreateProfile creates a profile. An existing profile of that name is an
// error matching [ErrConflict] (LXD 5.0 answers it with a 500, so the client
// looks whether the profile exists when creation fails).
func (c *Client) CreateProfile(ctx context.Context, req ProfilesPost) error {
	_, err := c.query(ctx, request{method: http.MethodPost, path: "/1.0/profiles", body: req}, nil)
	if err == nil {
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) && !errors.Is(err, ErrConflict) {
		// The daemon's answer for an existing name is not always a 409.
		if _, _, gerr := c.GetProfile(ctx, req.Name); gerr == nil {
			err = fmt.Errorf("%w (%w)", ErrConflict, err)
		}
	}
	return fmt.Errorf("cannot create profile %q: %w", req.Name, err)
}

// DeleteProfile deletes a profile, which no instance may use. A missing
// profile is an error matching [ErrNotFound].
func (c *Client) DeleteProfile(ctx context.Context, name string) error {
	if _, err := c.query(ctx, request{method: http.MethodDelete, path: profilePath(name)}, nil); err != nil {
		return fmt.Errorf("cannot delete profile %q: %w", name, err)
	}
	return nil
}

func profilePath(name string) string { return "/1.0/profiles/" + escape(name) }
