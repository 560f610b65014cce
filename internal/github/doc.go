// Package github is the project's client for GitHub's self-hosted runner
// REST API, built on go-github. One Client serves one scope, an organization
// or a repository (see ParsePath), and offers what a runner manager needs:
// listing runners by name prefix over all pages, getting and deleting them,
// registration and remove tokens, just-in-time runner configurations (with
// organization runner groups resolved by name), and the runner application
// downloads.
//
// Failures are classified once, here: every HTTP error answer becomes an
// *APIError wrapping one of the sentinels (ErrBadCredentials, ErrForbidden,
// ErrNotFound, ErrBusy, ErrConflict, ErrValidation, ErrServer) or a
// *RateLimitError matching ErrRateLimited; network and context errors come
// back wrapped as they are.
//
// The Client respects GitHub's rate limits: it reads the rate-limit headers
// of every answer (RateLimit), and once the budget is spent, or a secondary
// limit asked it to back off, it refuses further calls locally until the
// limit lifts instead of sending requests GitHub would refuse. It counts the
// requests it sends per endpoint (RequestCounts).
//
// Secrets (the API token, registration and remove tokens, JIT
// configurations) never appear in its logs or errors; the types that carry
// them redact them when printed or logged.
//
// The githubtest package beside this one is a stateful GitHub simulator
// for tests.
package github
