// Package githubrunner holds the charm's surface as the charm ships it:
// metadata.yaml, config.yaml and actions.yaml, embedded so that the binary
// reads its options from the one file that defines them.
package githubrunner

import _ "embed"

// configYAML is config.yaml: every option's name, type, default and
// description.
//
//go:embed config.yaml
var configYAML []byte

// ConfigYAML returns the charm's config.yaml.
func ConfigYAML() []byte { return append([]byte(nil), configYAML...) }
