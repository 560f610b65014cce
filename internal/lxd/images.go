package lxd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// GetImage returns an image by its fingerprint.
func (c *Client) GetImage(ctx context.Context, fingerprint string) (*Image, error) {
	var img Image
	if _, err := c.query(ctx, request{method: http.MethodGet, path: imagePath(fingerprint)}, &img); err != nil {
		return nil, fmt.Errorf("cannot get image %q: %w", fingerprint, err)
	}
	return &img, nil
}

// CreateImage starts creating an image from req.Source (publishing an
// instance, copying from an image server...). The finished operation's
// metadata holds the new image's "fingerprint"; [Client.PublishInstance]
// wraps the common case.
func (c *Client) CreateImage(ctx context.Context, req ImagesPost) (*Operation, error) {
	op, err := c.queryOperation(ctx, request{method: http.MethodPost, path: "/1.0/images", body: req})
	if err != nil {
		return nil, fmt.Errorf("cannot create image: %w", err)
	}
	return op, nil
}

// DeleteImage starts deleting an image. A missing image is an error
// matching [ErrNotFound].
func (c *Client) DeleteImage(ctx context.Context, fingerprint string) (*Operation, error) {
	op, err := c.queryOperation(ctx, request{method: http.MethodDelete, path: imagePath(fingerprint)})
	if err != nil {
		return nil, fmt.Errorf("cannot delete image %q: %w", fingerprint, err)
	}
	return op, nil
}

// PublishArgs says how to publish an instance as an image.
type PublishArgs struct {
	// Aliases are pointed at the new image once it exists: created, or
	// moved from the image they pointed at (see [Client.SetImageAlias]).
	Aliases []string
	// Properties describe the image (such as "os", "release",
	// "description").
	Properties map[string]string
	// Public makes the image available to untrusted clients.
	Public bool
}

// PublishInstance makes an image of a stopped instance, waits for it, points
// args.Aliases at it, and returns its fingerprint. Publishing an instance
// whose content gives the fingerprint of an existing image fails with an
// error matching [ErrConflict].
func (c *Client) PublishInstance(ctx context.Context, name string, args PublishArgs) (string, error) {
	op, err := c.CreateImage(ctx, ImagesPost{
		ImagePut: ImagePut{Properties: args.Properties, Public: args.Public},
		Source:   &ImagesPostSource{Type: "instance", Name: name},
	})
	if err != nil {
		return "", fmt.Errorf("cannot publish instance %q: %w", name, err)
	}
	fp, err := imageFingerprint(ctx, op)
	if err != nil {
		return "", fmt.Errorf("cannot publish instance %q: %w", name, err)
	}
	if err := c.setAliases(ctx, fp, args.Aliases); err != nil {
		return fp, fmt.Errorf("cannot publish instance %q: %w", name, err)
	}
	return fp, nil
}

// imageFingerprint waits for an image creation and returns the fingerprint
// it reports.
func imageFingerprint(ctx context.Context, op *Operation) (string, error) {
	if err := op.Wait(ctx); err != nil {
		return "", err
	}
	var res imageOperationResult
	if err := json.Unmarshal(op.Info().Metadata, &res); err != nil || res.Fingerprint == "" {
		return "", fmt.Errorf("lxd operation %q reported no image fingerprint", op.Info().Description)
	}
	return res.Fingerprint, nil
}

func (c *Client) setAliases(ctx context.Context, fingerprint string, aliases []string) error {
	for _, a := range aliases {
		if err := c.SetImageAlias(ctx, a, fingerprint); err != nil {
			return err
		}
	}
	return nil
}

// GetImageAlias returns an alias; its Target is the image's fingerprint.
func (c *Client) GetImageAlias(ctx context.Context, name string) (*ImageAliasesEntry, error) {
	var a ImageAliasesEntry
	if _, err := c.query(ctx, request{method: http.MethodGet, path: aliasPath(name)}, &a); err != nil {
		return nil, fmt.Errorf("cannot get image alias %q: %w", name, err)
	}
	return &a, nil
}

// CreateImageAlias creates an alias. An existing alias of that name is an
// error matching [ErrConflict].
func (c *Client) CreateImageAlias(ctx context.Context, req ImageAliasesPost) error {
	if _, err := c.query(ctx, request{method: http.MethodPost, path: "/1.0/images/aliases", body: req}, nil); err != nil {
		return fmt.Errorf("cannot create image alias %q: %w", req.Name, err)
	}
	return nil
}

// UpdateImageAlias replaces an alias's description and target: pointing it
// at another image is one atomic change for whoever launches from it.
func (c *Client) UpdateImageAlias(ctx context.Context, name string, req ImageAliasesEntryPut) error {
	if _, err := c.query(ctx, request{method: http.MethodPut, path: aliasPath(name), body: req}, nil); err != nil {
		return fmt.Errorf("cannot update image alias %q: %w", name, err)
	}
	return nil
}

// DeleteImageAlias deletes an alias (not its image). A missing alias is an
// error matching [ErrNotFound].
func (c *Client) DeleteImageAlias(ctx context.Context, name string) error {
	if _, err := c.query(ctx, request{method: http.MethodDelete, path: aliasPath(name)}, nil); err != nil {
		return fmt.Errorf("cannot delete image alias %q: %w", name, err)
	}
	return nil
}

// SetImageAlias points an alias at an image, creating the alias if needed
// or retargeting it (keeping its description) if it exists.
func (c *Client) SetImageAlias(ctx context.Context, name, fingerprint string) error {
	var err error
	for range 3 { // the alias may appear or vanish between two calls
		var cur *ImageAliasesEntry
		cur, err = c.GetImageAlias(ctx, name)
		switch {
		case err == nil:
			if cur.Target == fingerprint {
				return nil
			}
			err = c.UpdateImageAlias(ctx, name, ImageAliasesEntryPut{Description: cur.Description, Target: fingerprint})
			if !errors.Is(err, ErrNotFound) { // not found: the alias, or the image
				return err
			}
		case errors.Is(err, ErrNotFound):
			err = c.CreateImageAlias(ctx, ImageAliasesPost{ImageAliasesEntry{Name: name, ImageAliasesEntryPut: ImageAliasesEntryPut{Target: fingerprint}}})
			if !errors.Is(err, ErrConflict) {
				return err
			}
		default:
			return err
		}
	}
	return err
}

func imagePath(fingerprint string) string { return "/1.0/images/" + escape(fingerprint) }
func aliasPath(name string) string        { return "/1.0/images/aliases/" + escape(name) }
