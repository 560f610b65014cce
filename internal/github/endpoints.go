package github

import "strings"

// endpointTemplates are the REST paths the Client calls, as GitHub's API
// description writes them. RequestCounts and error messages name endpoints
// by these templates, never by concrete paths.
var endpointTemplates = splitTemplates(
	"/orgs/{org}/actions/runners",
	"/orgs/{org}/actions/runners/{runner_id}",
	"/orgs/{org}/actions/runners/{runner_id}/labels",
	"/orgs/{org}/actions/runners/{runner_id}/labels/{name}",
	"/orgs/{org}/actions/runners/downloads",
	"/orgs/{org}/actions/runners/registration-token",
	"/orgs/{org}/actions/runners/remove-token",
	"/orgs/{org}/actions/runners/generate-jitconfig",
	"/orgs/{org}/actions/runner-groups",
	"/repos/{owner}/{repo}/actions/runners",
	"/repos/{owner}/{repo}/actions/runners/{runner_id}",
	"/repos/{owner}/{repo}/actions/runners/{runner_id}/labels",
	"/repos/{owner}/{repo}/actions/runners/{runner_id}/labels/{name}",
	"/repos/{owner}/{repo}/actions/runners/downloads",
	"/repos/{owner}/{repo}/actions/runners/registration-token",
	"/repos/{owner}/{repo}/actions/runners/remove-token",
	"/repos/{owner}/{repo}/actions/runners/generate-jitconfig",
	"/enterprises/{enterprise}/actions/runners",
	"/enterprises/{enterprise}/actions/runners/{runner_id}",
	"/enterprises/{enterprise}/actions/runners/downloads",
	"/enterprises/{enterprise}/actions/runners/registration-token",
	"/enterprises/{enterprise}/actions/runners/remove-token",
	"/enterprises/{enterprise}/actions/runners/generate-jitconfig",
	"/enterprises/{enterprise}/actions/runner-groups",
	"/app/installations/{installation_id}/access_tokens",
	"/rate_limit",
)

type template struct {
	text     string
	segments []string
}

func splitTemplates(texts ...string) []template {
	out := make([]template, len(texts))
	for i, t := range texts {
		out[i] = template{text: t, segments: strings.Split(strings.Trim(t, "/"), "/")}
	}
	return out
}

// otherEndpoint names requests to paths outside endpointTemplates, so that
// counts stay bounded.
const otherEndpoint = "(other)"

// endpointOf returns "METHOD /template" for a request path relative to the
// API base (no leading base path, no query). When several templates match,
// the one with the most literal segments wins, as in GitHub's router:
// `/runners/downloads` is not runner "downloads".
func endpointOf(method, relPath string) string {
	segs := strings.Split(strings.Trim(relPath, "/"), "/")
	best, bestLiterals := otherEndpoint, -1
	for _, t := range endpointTemplates {
		if len(t.segments) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for i, ts := range t.segments {
			if strings.HasPrefix(ts, "{") {
				if segs[i] == "" {
					ok = false
					break
				}
				continue
			}
			if ts != segs[i] {
				ok = false
				break
			}
			literals++
		}
		if ok && literals > bestLiterals {
			best, bestLiterals = t.text, literals
		}
	}
	return method + " " + best
}
