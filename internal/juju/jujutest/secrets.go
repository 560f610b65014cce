package jujutest

import (
	"fmt"
	"regexp"
	"strings"
)

// secretURIRe is Juju's secret id, optionally after the source model's UUID.
var secretURIRe = regexp.MustCompile(`^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/)?([0-9a-z]{20})$`)

// parseSecretURI reads `secret:<id>`, `secret://<model-uuid>/<id>` or a bare
// id, as Juju's secrets.ParseURI does, and returns the id.
func parseSecretURI(s string) (string, error) {
	rest := s
	if scheme, after, ok := strings.Cut(s, ":"); ok {
		if scheme != "secret" {
			return "", fmt.Errorf("secret URI scheme %q not valid", scheme)
		}
		rest = strings.TrimPrefix(after, "//")
	}
	m := secretURIRe.FindStringSubmatch(rest)
	if m == nil {
		return "", fmt.Errorf("secret URI %q not valid", s)
	}
	return m[1], nil
}

// newSecretID returns a new id in Juju's form: 20 characters of base32hex
// (an xid), lower case.
func newSecretID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	var b strings.Builder
	for range 20 {
		b.WriteByte(alphabet[randUint64()%32])
	}
	return b.String()
}
