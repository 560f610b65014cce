package github

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	gh "github.com/google/go-github/v62/github"
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

// RegistrationToken creates a token with which config.sh registers a runner
// in the scope. It expires after an hour.
func (c *Client) RegistrationToken(ctx context.Context) (Token, error) {
	endpoint := c.scope.endpoint(http.MethodPost, "/actions/runners/registration-token")
	t, _, err := call(ctx, c, endpoint, func(ctx context.Context) (*gh.RegistrationToken, *gh.Response, error) {
		if c.scope.IsEnterprise() {
			return c.gh.Enterprise.CreateRegistrationToken(ctx, c.scope.enterprise)
		}
		if c.scope.IsOrg() {
			return c.gh.Actions.CreateOrganizationRegistrationToken(ctx, c.scope.owner)
		}
		return c.gh.Actions.CreateRegistrationToken(ctx, c.scope.owner, c.scope.repo)
	})
	var tok Token
	if err == nil {
		tok, err = tokenOf(endpoint, t.GetToken(), t.GetExpiresAt())
	}
	if err != nil {
		return Token{}, fmt.Errorf("cannot create a registration token for %s: %w", c.scope, err)
	}
	return tok, nil
}

// RemoveToken creates a token with which `config.sh remove` de-registers a
// runner of the scope. It expires after an hour.
func (c *Client) RemoveToken(ctx context.Context) (Token, error) {
	endpoint := c.scope.endpoint(http.MethodPost, "/actions/runners/remove-token")
	t, _, err := call(ctx, c, endpoint, func(ctx context.Context) (*gh.RemoveToken, *gh.Response, error) {
		if c.scope.IsEnterprise() {
			var out gh.RemoveToken
			resp, err := c.enterpriseDo(ctx, http.MethodPost, "actions/runners/remove-token", &out)
			return &out, resp, err
		}
		if c.scope.IsOrg() {
			return c.gh.Actions.CreateOrganizationRemoveToken(ctx, c.scope.owner)
		}
		return c.gh.Actions.CreateRemoveToken(ctx, c.scope.owner, c.scope.repo)
	})
	var tok Token
	if err == nil {
		tok, err = tokenOf(endpoint, t.GetToken(), t.GetExpiresAt())
	}
	if err != nil {
		return Token{}, fmt.Errorf("cannot create a remove token for %s: %w", c.scope, err)
	}
	return tok, nil
}

// tokenOf makes a Token of a token answer from endpoint.
func tokenOf(endpoint, value string, expiresAt gh.Timestamp) (Token, error) {
	if value == "" {
		return Token{}, fmt.Errorf("%s: the answer holds no token", endpoint)
	}
	return Token{Value: value, ExpiresAt: expiresAt.Time}, nil
}
