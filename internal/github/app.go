package github

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v5"
)

// AppCredentials authenticate as one installation of a GitHub App instead
// of with a personal token. The Client signs JWTs for the App with the
// private key, buys installation access tokens with them, and renews each
// token before it expires (the ghinstallation library does both); tokens are
// held in memory only.
type AppCredentials struct {
	// AppID is the App's numeric id (on the App's settings page).
	AppID int64
	// InstallationID is the installation's id (the number at the end of
	// the installation's settings URL).
	InstallationID int64
	// PrivateKey is the App's private key as GitHub hands it out: PEM,
	// "-----BEGIN RSA PRIVATE KEY-----". It is a secret.
	PrivateKey []byte
}

// ErrBadAppKey is matched by the error for a private key that is not an
// RSA key in PEM form.
var ErrBadAppKey = errors.New("not an RSA private key in PEM form")

// ParseAppKey checks that pem is an RSA private key in PEM form (PKCS#1, as
// GitHub gives it, or PKCS#8), and returns the SHA-256 fingerprint of its
// public half, which names the key without revealing it. A bad key is an
// error matching ErrBadAppKey that never quotes the key.
func ParseAppKey(pem []byte) (fingerprint string, err error) {
	key, err := jwt.ParseRSAPrivateKeyFromPEM(pem)
	if err != nil {
		return "", ErrBadAppKey
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", ErrBadAppKey
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + hex.EncodeToString(sum[:]), nil
}

// accessTokensEndpoint is where an App's JWT buys installation tokens.
const accessTokensEndpoint = "POST /app/installations/{installation_id}/access_tokens"

// InstallationTokenError is a failure to get an installation access token:
// GitHub refused the App's JWT (401: the key is not the App's, or the App
// id is wrong), does not know the installation or the App (404), or could
// not be reached. It unwraps to an *APIError (and so to its sentinel:
// ErrBadCredentials, ErrNotFound, ...) or to the network error.
type InstallationTokenError struct {
	AppID, InstallationID int64
	Err                   error
}

// Error implements error.
func (e *InstallationTokenError) Error() string {
	return fmt.Sprintf("cannot get an installation token for installation %d of GitHub App %d: %v", e.InstallationID, e.AppID, e.Err)
}

// Unwrap gives the cause.
func (e *InstallationTokenError) Unwrap() error { return e.Err }

// appTokens is the TokenSource of an App installation. renew drops the
// token in hand so that the next Token buys a new one, for a token GitHub
// refused before its stated expiry.
type appTokens struct {
	creds   AppCredentials
	apps    *ghinstallation.AppsTransport
	baseURL string

	mu  sync.Mutex
	cur *ghinstallation.Transport
}

// newAppTokens checks the key and prepares the token source. base carries
// the token requests (the Client's proxy and timeouts apply); apiURL is the
// REST API's base with its trailing slash.
func newAppTokens(creds AppCredentials, base http.RoundTripper, apiURL string) (*appTokens, error) {
	if creds.AppID <= 0 || creds.InstallationID <= 0 {
		return nil, errors.New("invalid GitHub client configuration: a GitHub App needs its id and an installation id")
	}
	if _, err := ParseAppKey(creds.PrivateKey); err != nil {
		return nil, fmt.Errorf("invalid GitHub App private key: %w", err)
	}
	apps, err := ghinstallation.NewAppsTransport(base, creds.AppID, creds.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("invalid GitHub App private key: %w", ErrBadAppKey)
	}
	t := &appTokens{creds: creds, apps: apps, baseURL: strings.TrimSuffix(apiURL, "/")}
	t.cur = t.fresh()
	return t, nil
}

func (t *appTokens) fresh() *ghinstallation.Transport {
	itr := ghinstallation.NewFromAppsTransport(t.apps, t.creds.InstallationID)
	itr.BaseURL = t.baseURL
	return itr
}

// Token implements TokenSource: the installation token in hand, or a new
// one when it is within a minute of its expiry.
func (t *appTokens) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	itr := t.cur
	t.mu.Unlock()
	tok, err := itr.Token(ctx)
	if err != nil {
		return "", &InstallationTokenError{AppID: t.creds.AppID, InstallationID: t.creds.InstallationID, Err: tokenFailure(err)}
	}
	return tok, nil
}

// renew forgets the token in hand.
func (t *appTokens) renew() {
	t.mu.Lock()
	t.cur = t.fresh()
	t.mu.Unlock()
}

// tokenFailure turns ghinstallation's error into an *APIError when GitHub
// answered, reading GitHub's message from the answer's body.
func tokenFailure(err error) error {
	var he *ghinstallation.HTTPError
	if !errors.As(err, &he) || he.Response == nil {
		if he != nil && he.RootCause != nil {
			return he.RootCause
		}
		return err
	}
	resp := he.Response
	var body struct {
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
	}
	if resp.Body != nil {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		_ = json.Unmarshal(data, &body)
	}
	return &APIError{
		Endpoint:         accessTokensEndpoint,
		StatusCode:       resp.StatusCode,
		Message:          body.Message,
		DocumentationURL: body.DocumentationURL,
		Kind:             kindOf(resp.StatusCode),
	}
}

// renewer is a TokenSource whose token GitHub may refuse before its
// stated expiry (an installation token revoked or expired early); the
// transport then renews it once and sends the request again.
type renewer interface {
	renew()
}
