package githubtest

import (
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// GitHub Apps, as GitHub's docs on authenticating as an App describe them:
// an App has an id, a client id and an RSA key pair whose private half its
// owner downloads; it authenticates as itself with a JWT it signs (RS256,
// iss the App's id or client id, iat, exp at most 10 minutes ahead), and as
// one of its installations with an installation access token the JWT buys
// from POST /app/installations/{id}/access_tokens. The token expires after
// an hour and carries the installation's permissions: administration for a
// repository's runners, organization_self_hosted_runners for an
// organization's.

// App permission names the runner endpoints check.
const (
	// PermissionAdministration is the repository permission for a
	// repository's runner endpoints: read to list and get, write for the
	// rest.
	PermissionAdministration = "administration"
	// PermissionOrgSelfHostedRunners is the organization permission for an
	// organization's runner and runner group endpoints.
	PermissionOrgSelfHostedRunners = "organization_self_hosted_runners"
	// PermissionMetadata is granted to every installation, read only.
	PermissionMetadata = "metadata"
)

// Permission levels.
const (
	LevelRead  = "read"
	LevelWrite = "write"
	LevelAdmin = "admin"
)

func levelRank(level string) int {
	switch level {
	case LevelRead:
		return 1
	case LevelWrite:
		return 2
	case LevelAdmin:
		return 3
	}
	return 0
}

// DefaultInstallationTokenLifetime is how long GitHub's installation access
// tokens last.
const DefaultInstallationTokenLifetime = time.Hour

// Installation rate limits, from GitHub's "Rate limits for the REST API":
// 5,000 an hour, 50 more for each repository over 20 and, on an
// organization, for each user over 20, up to 12,500; an installation on an
// organization of a GitHub Enterprise Cloud enterprise gets 15,000.
const (
	installationBaseLimit       = 5000
	installationGrowthPerUnit   = 50
	installationGrowthThreshold = 20
	installationMaxLimit        = 12500
	installationEnterpriseLimit = 15000
)

// maxJWTLifetime is how far ahead of GitHub's clock a JWT's exp may be.
const maxJWTLifetime = 10 * time.Minute

// GitHub's answers to a JWT it refuses.
const (
	msgJWTUndecodable = "A JSON web token could not be decoded"
	msgJWTIssuer      = "'Issuer' claim ('iss') must be an Integer"
	msgJWTIssuedAt    = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	msgJWTExpired     = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	msgJWTTooLong     = "'Expiration time' claim ('exp') is too far in the future"
	msgNoIntegration  = "Integration not found"
	msgNotIntegration = "Resource not accessible by integration"
)

const (
	docsApps       = "https://docs.github.com/rest/apps/apps"
	docsAppsTokens = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
)

type app struct {
	id          int64
	clientID    string
	slug        string
	name        string
	owner       string
	key         *rsa.PrivateKey
	permissions map[string]string
	createdAt   time.Time
}

// App is a registered GitHub App with the private key its owner would
// download from GitHub.
type App struct {
	ID       int64
	ClientID string
	Slug     string
	Name     string
	// PrivateKey is the App's key, and PrivateKeyPEM the same as GitHub
	// hands it out: PKCS#1, "-----BEGIN RSA PRIVATE KEY-----". The
	// simulator keeps only the public half.
	PrivateKey    *rsa.PrivateKey
	PrivateKeyPEM []byte
}

// JWT signs a JWT for the App as GitHub's docs show it: iat 60 seconds
// before now (against clock drift), exp 10 minutes after now, iss the
// client ID. Pass the simulator's clock (Server.Now) for a server on a fake
// clock.
func (a App) JWT(now time.Time) (string, error) {
	return SignAppJWT(a.PrivateKey, a.ClientID, now.Add(-time.Minute), now.Add(maxJWTLifetime))
}

// SignAppJWT signs a JWT with any issuer and times, for tests of the
// refusals.
func SignAppJWT(key *rsa.PrivateKey, iss string, iat, exp time.Time) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer:    iss,
		IssuedAt:  jwt.NewNumericDate(iat.Truncate(time.Second)),
		ExpiresAt: jwt.NewNumericDate(exp.Truncate(time.Second)),
	})
	signed, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("cannot sign JWT: %w", err)
	}
	return signed, nil
}

// AppSeed describes an App for AddApp.
type AppSeed struct {
	// Name defaults to "app-<id>"; the slug is made from it.
	Name string
	// Owner is the account the App belongs to (default "app-owner").
	Owner string
	// Permissions are the App's, and its installations' unless they say
	// otherwise; nil means organization_self_hosted_runners and
	// administration, both write.
	Permissions map[string]string
	// PrivateKey is the App's key; nil makes a new 2048-bit one.
	PrivateKey *rsa.PrivateKey
}

// AddApp registers a GitHub App and returns it with its private key.
func (s *Server) AddApp(seed AppSeed) (App, error) {
	key := seed.PrivateKey
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return App{}, fmt.Errorf("cannot make an App key: %w", err)
		}
	}
	perms := seed.Permissions
	if perms == nil {
		perms = map[string]string{PermissionOrgSelfHostedRunners: LevelWrite, PermissionAdministration: LevelWrite}
	}
	if err := checkPermissions(perms); err != nil {
		return App{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &app{
		id:          s.nextAppID,
		clientID:    "Iv23li" + randomAlnum(14),
		name:        cmp.Or(seed.Name, fmt.Sprintf("app-%d", s.nextAppID)),
		owner:       cmp.Or(seed.Owner, "app-owner"),
		key:         key,
		permissions: withMetadata(perms),
		createdAt:   s.now(),
	}
	a.slug = slugify(a.name)
	s.nextAppID++
	s.apps[a.id] = a
	return App{
		ID: a.id, ClientID: a.clientID, Slug: a.slug, Name: a.name, PrivateKey: key,
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	}, nil
}

func checkPermissions(perms map[string]string) error {
	for name, level := range perms {
		if name == "" || levelRank(level) == 0 {
			return fmt.Errorf("invalid permission %q: %q", name, level)
		}
	}
	return nil
}

// withMetadata returns perms with metadata read, which GitHub grants every
// installation.
func withMetadata(perms map[string]string) map[string]string {
	out := maps.Clone(perms)
	if out == nil {
		out = map[string]string{}
	}
	if levelRank(out[PermissionMetadata]) == 0 {
		out[PermissionMetadata] = LevelRead
	}
	return out
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slugify(name string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
}

// Account types of an installation.
const (
	TargetOrganization = "Organization"
	TargetUser         = "User"
	TargetEnterprise   = "Enterprise"
)

type installation struct {
	id         int64
	app        *app
	login      string // the account: organization, user, or enterprise slug
	accountID  int64
	targetType string
	// account is the organization's or enterprise's scope; nil for a user.
	account *scope
	// repos are the selected repositories ("owner/repo"); nil means all of
	// the account's.
	repos       []string
	permissions map[string]string
	users       int
	rateLimit   int
	createdAt   time.Time
}

// InstallationSeed describes an installation for AddInstallation.
type InstallationSeed struct {
	// Account is where the App is installed: an organization ("acme"), a
	// user who owns repositories ("octocat"), or an enterprise
	// ("enterprises/acme-corp").
	Account string
	// Repositories, if not nil, are the only repositories ("owner/repo",
	// of the account) the installation reaches: repository_selection
	// "selected". A repository-only installation is one of these.
	Repositories []string
	// Permissions are the installation's; nil means the App's. An empty
	// map grants nothing but metadata.
	Permissions map[string]string
	// Users is the organization's member count, which grows the rate
	// limit.
	Users int
	// RateLimit, if set, is the installation's hourly budget instead of
	// GitHub's formula.
	RateLimit int
}

// Installation is a snapshot of an App installation.
type Installation struct {
	ID    int64
	AppID int64
	// Account is as given to AddInstallation; TargetType is
	// TargetOrganization, TargetUser or TargetEnterprise.
	Account    string
	TargetType string
	// Repositories are the selected repositories, nil for all.
	Repositories []string
	Permissions  map[string]string
	// RateLimit is the installation's hourly budget.
	RateLimit int
}

// AddInstallation installs an App on an account.
func (s *Server) AddInstallation(appID int64, seed InstallationSeed) (Installation, error) {
	if seed.Permissions != nil {
		if err := checkPermissions(seed.Permissions); err != nil {
			return Installation{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appID]
	if !ok {
		return Installation{}, fmt.Errorf("no App %d", appID)
	}
	inst := &installation{id: s.nextInstallationID, app: a, users: seed.Users, rateLimit: seed.RateLimit, createdAt: s.now()}
	sc := s.scopes[strings.ToLower(seed.Account)]
	switch {
	case sc != nil && sc.kind == kindOrg:
		inst.login, inst.accountID, inst.targetType, inst.account = sc.path, sc.id, TargetOrganization, sc
	case sc != nil && sc.kind == kindEnterprise:
		inst.login, inst.accountID, inst.targetType, inst.account = sc.name(), sc.id, TargetEnterprise, sc
	case seed.Account != "" && !strings.Contains(seed.Account, "/") && s.ownsReposLocked(seed.Account):
		inst.login, inst.accountID, inst.targetType = seed.Account, s.userIDLocked(seed.Account), TargetUser
	default:
		return Installation{}, fmt.Errorf("no organization, enterprise or repository owner %q", seed.Account)
	}
	for _, other := range s.installations {
		if other.app == a && other.targetType == inst.targetType && strings.EqualFold(other.login, inst.login) {
			return Installation{}, fmt.Errorf("App %d is installed on %s already", appID, seed.Account)
		}
	}
	if seed.Repositories != nil {
		if inst.targetType == TargetEnterprise {
			return Installation{}, errors.New("an enterprise installation has no repositories")
		}
		inst.repos = []string{}
		for _, r := range seed.Repositories {
			rs := s.scopes[strings.ToLower(r)]
			if rs == nil || rs.kind != kindRepo || !strings.EqualFold(rs.owner(), inst.login) {
				return Installation{}, fmt.Errorf("no repository %q of %s", r, inst.login)
			}
			inst.repos = append(inst.repos, rs.path)
		}
	}
	perms := a.permissions
	if seed.Permissions != nil {
		perms = seed.Permissions
	}
	inst.permissions = withMetadata(perms)
	s.nextInstallationID++
	s.installations[inst.id] = inst
	return s.installationSnapshotLocked(inst), nil
}

func (s *Server) installationSnapshotLocked(inst *installation) Installation {
	account := inst.login
	if inst.targetType == TargetEnterprise {
		account = enterprisePrefix + inst.login
	}
	return Installation{
		ID: inst.id, AppID: inst.app.id, Account: account, TargetType: inst.targetType,
		Repositories: slices.Clone(inst.repos), Permissions: maps.Clone(inst.permissions),
		RateLimit: s.installationLimitLocked(inst),
	}
}

// ownsReposLocked reports whether a login owns a repository.
func (s *Server) ownsReposLocked(login string) bool {
	for _, sc := range s.scopes {
		if sc.kind == kindRepo && strings.EqualFold(sc.owner(), login) {
			return true
		}
	}
	return false
}

// userIDLocked returns a user account's id, allocating one the first time.
func (s *Server) userIDLocked(login string) int64 {
	key := strings.ToLower(login)
	if id, ok := s.userIDs[key]; ok {
		return id
	}
	id := s.newAccountIDLocked()
	s.userIDs[key] = id
	return id
}

// reposLocked returns the repositories an installation (or a token narrowed
// to selected) reaches.
func (s *Server) reposLocked(inst *installation, selected []string) []*scope {
	var out []*scope
	for _, sc := range s.scopes {
		if sc.kind != kindRepo || !strings.EqualFold(sc.owner(), inst.login) || inst.targetType == TargetEnterprise {
			continue
		}
		if selected != nil && !slices.Contains(selected, sc.path) {
			continue
		}
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b *scope) int { return cmp.Compare(a.id, b.id) })
	return out
}

// installationLimitLocked is an installation's hourly budget.
func (s *Server) installationLimitLocked(inst *installation) int {
	if inst.rateLimit > 0 {
		return inst.rateLimit
	}
	if inst.targetType == TargetEnterprise || inst.account != nil && inst.account.enterprise != nil {
		return installationEnterpriseLimit
	}
	limit := installationBaseLimit +
		installationGrowthPerUnit*max(len(s.reposLocked(inst, inst.repos))-installationGrowthThreshold, 0)
	if inst.targetType == TargetOrganization {
		limit += installationGrowthPerUnit * max(inst.users-installationGrowthThreshold, 0)
	}
	return min(limit, installationMaxLimit)
}

// installationToken is an installation access token.
type installationToken struct {
	seq         int64 // creation order
	text        string
	inst        *installation
	permissions map[string]string
	// repos narrows the installation's repositories; nil means all of
	// them.
	repos   []string
	expires time.Time
}

// selected returns the repositories the token is limited to, nil for all
// of the installation's.
func (t *installationToken) selected() []string {
	if t.repos != nil {
		return t.repos
	}
	return t.inst.repos
}

// reaches reports whether the token's installation covers a scope's runner
// endpoints. GitHub's description does not enable the enterprise runner
// endpoints for GitHub Apps.
func (t *installationToken) reaches(sc *scope) bool {
	inst := t.inst
	switch sc.kind {
	case kindOrg:
		return inst.targetType == TargetOrganization && strings.EqualFold(inst.login, sc.path)
	case kindRepo:
		sel := t.selected()
		return inst.targetType != TargetEnterprise && strings.EqualFold(inst.login, sc.owner()) &&
			(sel == nil || slices.Contains(sel, sc.path))
	}
	return false
}

func (t *installationToken) has(permission, level string) bool {
	return levelRank(t.permissions[permission]) >= levelRank(level)
}

// InstallationToken is a snapshot of an installation access token.
type InstallationToken struct {
	Token          string
	InstallationID int64
	ExpiresAt      time.Time
	Permissions    map[string]string
	// Repositories are the repositories the token is limited to, nil for
	// all of the installation's.
	Repositories []string
}

func (t *installationToken) snapshot() InstallationToken {
	return InstallationToken{
		Token: t.text, InstallationID: t.inst.id, ExpiresAt: t.expires,
		Permissions: maps.Clone(t.permissions), Repositories: slices.Clone(t.selected()),
	}
}

func (s *Server) newInstallationTokenLocked(inst *installation, perms map[string]string, repos []string, now time.Time) *installationToken {
	s.nextTokenSeq++
	t := &installationToken{
		seq:         s.nextTokenSeq,
		text:        "ghs_" + randomAlnum(36),
		inst:        inst,
		permissions: perms,
		repos:       repos,
		expires:     now.Add(s.opts.InstallationTokenLifetime).Truncate(time.Second),
	}
	s.instTokens[t.text] = t
	return t
}

// CreateInstallationToken mints an installation access token with all of
// the installation's permissions, as the access_tokens endpoint would, for
// tests that need one without a JWT.
func (s *Server) CreateInstallationToken(installationID int64) (InstallationToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.installations[installationID]
	if !ok {
		return InstallationToken{}, fmt.Errorf("no installation %d", installationID)
	}
	return s.newInstallationTokenLocked(inst, maps.Clone(inst.permissions), nil, s.now()).snapshot(), nil
}

// InstallationTokens returns an installation's access tokens, expired ones
// included, oldest first.
func (s *Server) InstallationTokens(installationID int64) []InstallationToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	var toks []*installationToken
	for _, t := range s.instTokens {
		if t.inst.id == installationID {
			toks = append(toks, t)
		}
	}
	slices.SortFunc(toks, func(a, b *installationToken) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]InstallationToken, 0, len(toks))
	for _, t := range toks {
		out = append(out, t.snapshot())
	}
	return out
}

// SetInstallationTokenExpiry moves an installation access token's expiry,
// for instance to the simulator's now to expire it mid-run: from then on it
// gets 401 Bad credentials. (Moving a fake clock past ExpiresAt does the
// same for every token.)
func (s *Server) SetInstallationTokenExpiry(token string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.instTokens[token]
	if !ok {
		return errors.New("no such installation access token")
	}
	t.expires = at
	return nil
}

// Now is the simulator's clock, for signing JWTs it will accept.
func (s *Server) Now() time.Time { return s.now() }

// JWT verification.

var (
	errIssuer = errors.New("the issuer is not an App id or client id")
	errNoApp  = errors.New("no App has that issuer")
)

// looksLikeJWT reports whether a credential has a JWT's three parts.
func looksLikeJWT(cred string) bool { return strings.Count(cred, ".") == 2 }

// verifyJWTLocked checks a JWT as GitHub does and returns its App: RS256
// with the public key of the App iss names, iat not after now, exp after now
// and at most 10 minutes ahead, both whole seconds. s.mu must be held.
func (s *Server) verifyJWTLocked(raw string, now time.Time) (*app, *authError) {
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithJSONNumber(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
	)
	var found *app
	_, err := parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		a, err := s.issuerLocked(claims["iss"])
		if err != nil {
			return nil, err
		}
		found = a
		return &a.key.PublicKey, nil
	})
	unauthorized := func(msg string) *authError { return &authError{status: http.StatusUnauthorized, message: msg} }
	switch {
	case errors.Is(err, errIssuer):
		return nil, unauthorized(msgJWTIssuer)
	case errors.Is(err, errNoApp):
		return nil, &authError{status: http.StatusNotFound, message: msgNoIntegration}
	case errors.Is(err, jwt.ErrTokenMalformed), errors.Is(err, jwt.ErrTokenSignatureInvalid),
		errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, unauthorized(msgJWTUndecodable)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, unauthorized(msgJWTIssuedAt)
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, unauthorized(msgJWTExpired)
	case err != nil:
		// A claim of the wrong type.
		if !isNumber(claims["iat"]) {
			return nil, unauthorized(msgJWTIssuedAt)
		}
		return nil, unauthorized(msgJWTExpired)
	}
	if !isInteger(claims["iat"]) {
		return nil, unauthorized(msgJWTIssuedAt)
	}
	if !isInteger(claims["exp"]) {
		return nil, unauthorized(msgJWTExpired)
	}
	if exp, _ := claims.GetExpirationTime(); exp.After(now.Add(maxJWTLifetime)) {
		return nil, unauthorized(msgJWTTooLong)
	}
	return found, nil
}

// issuerLocked finds the App an iss claim names: its id, as a number or a
// string, or its client id.
func (s *Server) issuerLocked(iss any) (*app, error) {
	var id int64
	switch v := iss.(type) {
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			return nil, errIssuer
		}
		id = n
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			for _, a := range s.apps {
				if a.clientID == v {
					return a, nil
				}
			}
			if strings.HasPrefix(v, "Iv") {
				return nil, errNoApp
			}
			return nil, errIssuer
		}
		id = n
	default:
		return nil, errIssuer
	}
	a, ok := s.apps[id]
	if !ok {
		return nil, errNoApp
	}
	return a, nil
}

func isNumber(v any) bool {
	_, ok := v.(json.Number)
	return ok
}

// isInteger reports whether a claim is a JSON number without a fraction or
// exponent: GitHub refuses fractional timestamps.
func isInteger(v any) bool {
	n, ok := v.(json.Number)
	return ok && !strings.ContainsAny(string(n), ".eE")
}

// randomAlnum returns n random letters and digits.
func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
