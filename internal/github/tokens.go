package github

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// redacted replaces secrets wherever a value would be printed.
const redacted = "REDACTED"

// Token is a registration or remove token for the runner application's
// config.sh. Value is a secret: String, GoString, Format and LogValue never
// show it, so printing or logging a Token is safe; pass Value explicitly
// where it is needed, and never in a command line.
type Token struct {
	// Value is the secret token.
	Value string
	// ExpiresAt is when GitHub stops accepting it.
	ExpiresAt time.Time
}

// String implements fmt.Stringer without the secret.
func (t Token) String() string {
	return fmt.Sprintf("Token{Value:%s ExpiresAt:%s}", redacted, t.ExpiresAt.UTC().Format(time.RFC3339))
}

// GoString implements fmt.GoStringer without the secret.
func (t Token) GoString() string { return "github." + t.String() }

// Format implements fmt.Formatter so that no verb prints the secret.
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String(), t.GoString()) }

// LogValue implements slog.LogValuer without the secret.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("value", redacted), slog.Time("expires_at", t.ExpiresAt))
}

// formatRedacted prints s for every verb, or gs for %#v.
func formatRedacted(f fmt.State, verb rune, s, gs string) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, gs)
		return
	}
	fmt.Fprint(f, s)
}

// tokenJSON is GitHub's authentication-token object.
type tokenJSON struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RegistrationToken creates a token with which config.sh registers a runner
// in the scope. It expires after an hour.
func (c *Client) RegistrationToken(ctx context.Context) (Token, error) {
	t, err := c.createToken(ctx, "registration-token")
	if err != nil {
		return Token{}, fmt.Errorf("cannot create a registration token for %s: %w", c.scope, err)
	}
	return t, nil
}

// RemoveToken creates a token with which `config.sh remove` de-registers a
// runner of the scope. It expires after an hour.
func (c *Client) RemoveToken(ctx context.Context) (Token, error) {
	t, err := c.createToken(ctx, "remove-token")
	if err != nil {
		return Token{}, fmt.Errorf("cannot create a remove token for %s: %w", c.scope, err)
	}
	return t, nil
}

func (c *Client) createToken(ctx context.Context, kind string) (Token, error) {
	req, endpoint, err := c.newRequest(http.MethodPost, c.scope.apiPrefix()+"/actions/runners/"+kind, nil)
	if err != nil {
		return Token{}, err
	}
	var body tokenJSON
	if _, err := c.do(ctx, endpoint, req, &body); err != nil {
		return Token{}, err
	}
	if body.Token == "" {
		return Token{}, fmt.Errorf("%s: the answer holds no token", endpoint)
	}
	return Token{Value: body.Token, ExpiresAt: body.ExpiresAt}, nil
}
