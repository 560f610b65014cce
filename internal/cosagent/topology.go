package cosagent

import (
	"fmt"
	"regexp"
	"strings"
)

// Topology is a unit's Juju topology, as cos-lib's JujuTopology.
type Topology struct {
	Model, ModelUUID, Application, Unit string
	// CharmName is the charm's name (metadata.yaml), not the application's.
	CharmName string
}

// uuidV4 is what JujuTopology accepts as a model UUID.
var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Validate refuses what JujuTopology refuses (a model UUID that is not a
// lower-case v4 UUID) and empty names.
func (t Topology) Validate() error {
	if !uuidV4.MatchString(t.ModelUUID) {
		return fmt.Errorf("invalid topology: '%s' is not a valid UUID", t.ModelUUID)
	}
	if t.Model == "" || t.Application == "" || t.CharmName == "" {
		return fmt.Errorf("invalid topology: model, application and charm names are required")
	}
	return nil
}

// Identifier is "<model>_<first 8 of uuid>_<application>", with / as _.
func (t Topology) Identifier() string {
	short := t.ModelUUID
	if len(short) > 8 {
		short = short[:8]
	}
	return strings.ReplaceAll(strings.Join([]string{t.Model, short, t.Application}, "_"), "/", "_")
}

// LabelMatchers are the juju_* labels of the topology without the unit
// (label_matcher_dict): juju_model, juju_model_uuid, juju_application and
// juju_charm, those that are set.
func (t Topology) LabelMatchers() map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{
		"juju_model": t.Model, "juju_model_uuid": t.ModelUUID,
		"juju_application": t.Application, "juju_charm": t.CharmName,
	} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// alertExpressionLabels are the labels cos-lib injects into expressions.
func alertExpressionLabels() []string {
	return []string{"juju_model", "juju_model_uuid", "juju_application"}
}
