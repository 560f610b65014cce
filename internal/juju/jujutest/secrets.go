package jujutest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"charm.example/github-runner/internal/juju/jujutest/hooktool"
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

// secret is one secret the controller keeps: its revisions, its label, and
// whose it is. The operator's secrets (AddSecret) are read by the unit as a
// consumer; a unit-owned one (secret-add --owner unit) by its owner.
type secret struct {
	// revisions holds the content of revision i+1.
	revisions []map[string]string
	label     string
	granted   bool
	// ownerUnit is the owning unit's name, "" for the operator's secrets.
	ownerUnit string
}

func (sec *secret) latest() map[string]string { return sec.revisions[len(sec.revisions)-1] }

func (sec *secret) clone() *secret {
	c := *sec
	c.revisions = make([]map[string]string, len(sec.revisions))
	for i, r := range sec.revisions {
		c.revisions[i] = maps.Clone(r)
	}
	return &c
}

// ownedSecretsLocked is a working copy of the unit's own secrets for a
// hook: secret-add, secret-set and secret-remove are transactional, kept
// only if the hook succeeds (juju.md, "Exit status of a HOOK").
func (s *Sim) ownedSecretsLocked() map[string]*secret {
	out := map[string]*secret{}
	for id, sec := range s.secrets {
		if sec.ownerUnit != "" {
			out[id] = sec.clone()
		}
	}
	return out
}

// commitSecretsLocked keeps a successful hook's secret changes.
func (s *Sim) commitSecretsLocked(hc *hookContext) {
	for id, sec := range s.secrets {
		if sec.ownerUnit != "" {
			delete(s.secrets, id)
		}
	}
	maps.Copy(s.secrets, hc.secrets)
	s.tracked = hc.tracked
}

// findSecretLocked finds a secret by id or label: the unit's own first
// (the hook's working copy), then the operator's.
func (s *Sim) findSecretLocked(hc *hookContext, id, label string) (string, *secret, bool) {
	if id != "" {
		if sec, ok := hc.secrets[id]; ok {
			return id, sec, true
		}
		if sec, ok := s.secrets[id]; ok && sec.ownerUnit == "" {
			return id, sec, true
		}
		return "", nil, false
	}
	for _, sid := range sortedKeys(hc.secrets) {
		if hc.secrets[sid].label == label {
			return sid, hc.secrets[sid], true
		}
	}
	for _, sid := range sortedKeys(s.secrets) {
		if sec := s.secrets[sid]; sec.ownerUnit == "" && sec.label == label {
			return sid, sec, true
		}
	}
	return "", nil, false
}

// secretKeyRe is Juju's rule for content keys.
var secretKeyRe = regexp.MustCompile(`^[a-z](?:-?[a-z0-9]){2,}$`)

// secretContent reads secret-add's and secret-set's content: key=value
// arguments (key#base64=value decoded) and a YAML --file.
func secretContent(args []string, file string) (map[string]string, error) {
	out := map[string]string{}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("cannot read secret file: %w", err)
		}
		var m map[string]string
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("cannot read secret file: %w", err)
		}
		for k, v := range m {
			args = append(args, k+"="+v)
		}
	}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, usagef("key value %q not valid", a)
		}
		name, b64 := strings.CutSuffix(k, "#base64")
		if !secretKeyRe.MatchString(name) {
			return nil, usagef("key %q not valid", name)
		}
		if b64 {
			d, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, usagef("base64 value for key %q not valid", name)
			}
			v = string(d)
		}
		out[name] = v
	}
	return out, nil
}

var upsertFlags = []flagSpec{
	{names: []string{"owner"}}, {names: []string{"label"}}, {names: []string{"description"}},
	{names: []string{"file"}}, {names: []string{"expire"}}, {names: []string{"rotate"}},
}

// secretAdd is `secret-add [--owner unit|application] [--label L]
// [--file F] key=value...`: a new secret of the unit (or, for the leader,
// of the application, kept here as the unit's), its URI printed.
func (s *Sim) secretAdd(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs(upsertFlags, req.Args)
	if err != nil {
		return nil, err
	}
	owner, _ := c.str("owner")
	switch owner {
	case "", "application":
		if !s.leader {
			return nil, errors.New(msgNotLeader)
		}
	case "unit":
	default:
		return nil, usagef("secret owner %q not valid", owner)
	}
	file, _ := c.str("file")
	content, err := secretContent(c.pos, file)
	if err != nil {
		return nil, err
	}
	if len(content) == 0 {
		return nil, usagef("missing secret value or filename")
	}
	label, _ := c.str("label")
	if label != "" {
		if _, _, ok := s.findSecretLocked(hc, "", label); ok {
			return nil, fmt.Errorf("secret with label %q already exists", label)
		}
	}
	id := newSecretID()
	hc.secrets[id] = &secret{revisions: []map[string]string{content}, label: label, granted: true, ownerUnit: s.unit}
	return []byte("secret:" + id + "\n"), nil
}

// ownedSecretLocked finds one of the unit's own secrets by URI.
func (s *Sim) ownedSecretLocked(hc *hookContext, uri string) (string, *secret, error) {
	id, err := parseSecretURI(uri)
	if err != nil {
		return "", nil, usagef("secret URI %q not valid", uri)
	}
	if sec, ok := hc.secrets[id]; ok {
		return id, sec, nil
	}
	if _, ok := s.secrets[id]; ok {
		return "", nil, errors.New("permission denied")
	}
	return "", nil, fmt.Errorf("secret %q not found", id)
}

// secretSet is `secret-set <uri> [--label L] [--file F] [key=value...]`:
// a new revision of one of the unit's own secrets.
func (s *Sim) secretSet(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs(upsertFlags, req.Args)
	if err != nil {
		return nil, err
	}
	if len(c.pos) == 0 {
		return nil, usagef("missing secret URI")
	}
	_, sec, err := s.ownedSecretLocked(hc, c.pos[0])
	if err != nil {
		return nil, err
	}
	file, _ := c.str("file")
	content, err := secretContent(c.pos[1:], file)
	if err != nil {
		return nil, err
	}
	if label, ok := c.str("label"); ok {
		sec.label = label
	}
	if len(content) > 0 {
		sec.revisions = append(sec.revisions, content)
	}
	return nil, nil
}

// secretRemove is `secret-remove <uri>`: one of the unit's own secrets.
func (s *Sim) secretRemove(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{{names: []string{"revision"}}}, req.Args)
	if err != nil {
		return nil, err
	}
	if len(c.pos) != 1 {
		return nil, usagef("missing secret URI")
	}
	id, _, err := s.ownedSecretLocked(hc, c.pos[0])
	if err != nil {
		return nil, err
	}
	delete(hc.secrets, id)
	return nil, nil
}

// secretIDs is `secret-ids [--format F]`: the URIs of the unit's secrets.
func (s *Sim) secretIDs(hc *hookContext, req hooktool.Request) ([]byte, error) {
	c, err := parseArgs([]flagSpec{formatFlag}, req.Args)
	if err != nil {
		return nil, err
	}
	if err := unrecognized(c.pos); err != nil {
		return nil, err
	}
	ids := []string{}
	for _, id := range sortedKeys(hc.secrets) {
		ids = append(ids, "secret:"+id)
	}
	return render(c.format("yaml"), ids)
}

// OwnedSecrets are the unit's own secrets (secret-add), by URI, at their
// newest revision.
func (s *Sim) OwnedSecrets() map[string]map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]string{}
	for id, sec := range s.secrets {
		if sec.ownerUnit != "" {
			out["secret:"+id] = maps.Clone(sec.latest())
		}
	}
	return out
}

// TrackedRevision is the revision of an operator's secret the unit reads
// (0 before its first secret-get).
func (s *Sim) TrackedRevision(uri string) int {
	id, err := parseSecretURI(uri)
	if err != nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tracked[id]
}
