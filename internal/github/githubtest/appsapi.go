package githubtest

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The App endpoints: GET /app, GET /app/installations[/{id}], POST
// /app/installations/{id}/access_tokens, GET /orgs/{org}/installation and
// GET /repos/{owner}/{repo}/installation, authenticated with the App's JWT.

// gitHubTime writes a timestamp as GitHub's REST API does.
func gitHubTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// simpleUserOut is GitHub's simple-user, for users and organizations.
type simpleUserOut struct {
	Login             string `json:"login"`
	ID                int64  `json:"id"`
	NodeID            string `json:"node_id"`
	AvatarURL         string `json:"avatar_url"`
	GravatarID        string `json:"gravatar_id"`
	URL               string `json:"url"`
	HTMLURL           string `json:"html_url"`
	FollowersURL      string `json:"followers_url"`
	FollowingURL      string `json:"following_url"`
	GistsURL          string `json:"gists_url"`
	StarredURL        string `json:"starred_url"`
	SubscriptionsURL  string `json:"subscriptions_url"`
	OrganizationsURL  string `json:"organizations_url"`
	ReposURL          string `json:"repos_url"`
	EventsURL         string `json:"events_url"`
	ReceivedEventsURL string `json:"received_events_url"`
	Type              string `json:"type"`
	SiteAdmin         bool   `json:"site_admin"`
}

func (s *Server) userOut(login string, id int64, typ string) simpleUserOut {
	api := s.baseURL + "users/" + login
	return simpleUserOut{
		Login: login, ID: id, NodeID: nodeID("U", id),
		AvatarURL:         fmt.Sprintf("%savatars/u/%d", s.baseURL, id),
		URL:               api,
		HTMLURL:           s.baseURL + login,
		FollowersURL:      api + "/followers",
		FollowingURL:      api + "/following{/other_user}",
		GistsURL:          api + "/gists{/gist_id}",
		StarredURL:        api + "/starred{/owner}{/repo}",
		SubscriptionsURL:  api + "/subscriptions",
		OrganizationsURL:  api + "/orgs",
		ReposURL:          api + "/repos",
		EventsURL:         api + "/events{/privacy}",
		ReceivedEventsURL: api + "/received_events",
		Type:              typ,
	}
}

// nodeID makes a GraphQL-style node id.
func nodeID(kind string, id int64) string {
	return encodeBase64([]byte(fmt.Sprintf("0%d:%s%d", len(kind), kind, id)))
}

// enterpriseOut is GitHub's enterprise object.
type enterpriseOut struct {
	ID          int64   `json:"id"`
	Slug        string  `json:"slug"`
	Name        string  `json:"name"`
	NodeID      string  `json:"node_id"`
	AvatarURL   string  `json:"avatar_url"`
	Description *string `json:"description"`
	WebsiteURL  *string `json:"website_url"`
	HTMLURL     string  `json:"html_url"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

type installationOut struct {
	ID                     int64             `json:"id"`
	Account                any               `json:"account"`
	RepositorySelection    string            `json:"repository_selection"`
	AccessTokensURL        string            `json:"access_tokens_url"`
	RepositoriesURL        string            `json:"repositories_url"`
	HTMLURL                string            `json:"html_url"`
	AppID                  int64             `json:"app_id"`
	ClientID               string            `json:"client_id"`
	AppSlug                string            `json:"app_slug"`
	TargetID               int64             `json:"target_id"`
	TargetType             string            `json:"target_type"`
	Permissions            map[string]string `json:"permissions"`
	Events                 []string          `json:"events"`
	CreatedAt              string            `json:"created_at"`
	UpdatedAt              string            `json:"updated_at"`
	SingleFileName         *string           `json:"single_file_name"`
	HasMultipleSingleFiles bool              `json:"has_multiple_single_files"`
	SingleFilePaths        []string          `json:"single_file_paths"`
	SuspendedBy            *simpleUserOut    `json:"suspended_by"`
	SuspendedAt            *string           `json:"suspended_at"`
}

func selection(repos []string) string {
	if repos == nil {
		return "all"
	}
	return "selected"
}

func (s *Server) installationOutLocked(inst *installation) installationOut {
	out := installationOut{
		ID:                  inst.id,
		RepositorySelection: selection(inst.repos),
		AccessTokensURL:     fmt.Sprintf("%sapp/installations/%d/access_tokens", s.baseURL, inst.id),
		RepositoriesURL:     s.baseURL + "installation/repositories",
		AppID:               inst.app.id,
		ClientID:            inst.app.clientID,
		AppSlug:             inst.app.slug,
		TargetID:            inst.accountID,
		TargetType:          inst.targetType,
		Permissions:         maps.Clone(inst.permissions),
		Events:              []string{},
		CreatedAt:           gitHubTime(inst.createdAt),
		UpdatedAt:           gitHubTime(inst.createdAt),
		SingleFilePaths:     []string{},
	}
	switch inst.targetType {
	case TargetEnterprise:
		out.HTMLURL = fmt.Sprintf("%senterprises/%s/settings/installations/%d", s.baseURL, inst.login, inst.id)
		out.Account = enterpriseOut{
			ID: inst.accountID, Slug: inst.login, Name: inst.login, NodeID: nodeID("E", inst.accountID),
			AvatarURL: fmt.Sprintf("%savatars/b/%d", s.baseURL, inst.accountID),
			HTMLURL:   s.WebURL(inst.account.path),
			CreatedAt: gitHubTime(inst.account.createdAt), UpdatedAt: gitHubTime(inst.account.createdAt),
		}
	case TargetOrganization:
		out.HTMLURL = fmt.Sprintf("%sorganizations/%s/settings/installations/%d", s.baseURL, inst.login, inst.id)
		out.Account = s.userOut(inst.login, inst.accountID, TargetOrganization)
	default:
		out.HTMLURL = fmt.Sprintf("%ssettings/installations/%d", s.baseURL, inst.id)
		out.Account = s.userOut(inst.login, inst.accountID, TargetUser)
	}
	return out
}

func (s *Server) getApp(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := c.who.app
	n := 0
	for _, inst := range s.installations {
		if inst.app == a {
			n++
		}
	}
	c.json(http.StatusOK, struct {
		ID                 int64             `json:"id"`
		Slug               string            `json:"slug"`
		NodeID             string            `json:"node_id"`
		ClientID           string            `json:"client_id"`
		Owner              simpleUserOut     `json:"owner"`
		Name               string            `json:"name"`
		Description        string            `json:"description"`
		ExternalURL        string            `json:"external_url"`
		HTMLURL            string            `json:"html_url"`
		CreatedAt          string            `json:"created_at"`
		UpdatedAt          string            `json:"updated_at"`
		Permissions        map[string]string `json:"permissions"`
		Events             []string          `json:"events"`
		InstallationsCount int               `json:"installations_count"`
	}{
		ID: a.id, Slug: a.slug, NodeID: nodeID("A", a.id), ClientID: a.clientID,
		Owner: s.userOut(a.owner, 1, TargetOrganization), Name: a.name, Description: "",
		ExternalURL: s.WebURL(a.owner), HTMLURL: s.baseURL + "apps/" + a.slug,
		CreatedAt: gitHubTime(a.createdAt), UpdatedAt: gitHubTime(a.createdAt),
		Permissions: maps.Clone(a.permissions), Events: []string{}, InstallationsCount: n,
	})
}

// appInstallationsLocked returns the calling App's installations by id.
func (c *call) appInstallationsLocked() []*installation {
	var out []*installation
	for _, inst := range c.s.installations {
		if inst.app == c.who.app {
			out = append(out, inst)
		}
	}
	slices.SortFunc(out, func(a, b *installation) int { return cmp.Compare(a.id, b.id) })
	return out
}

func (s *Server) listInstallations(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := c.appInstallationsLocked()
	lo, hi := c.paginate(len(all))
	out := []installationOut{}
	for _, inst := range all[lo:hi] {
		out = append(out, s.installationOutLocked(inst))
	}
	c.json(http.StatusOK, out)
}

// installationLocked finds the calling App's installation named by the
// {installation_id} path value, or answers 404.
func (c *call) installationLocked() *installation {
	id, err := strconv.ParseInt(c.r.PathValue("installation_id"), 10, 64)
	inst, ok := c.s.installations[id]
	if err != nil || !ok || inst.app != c.who.app {
		c.errorDoc(http.StatusNotFound, "Not Found", docsApps)
		return nil
	}
	return inst
}

func (s *Server) getInstallation(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inst := c.installationLocked(); inst != nil {
		c.json(http.StatusOK, s.installationOutLocked(inst))
	}
}

func (s *Server) findOrgInstallation(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, inst := range c.appInstallationsLocked() {
		if inst.targetType == TargetOrganization && strings.EqualFold(inst.login, c.r.PathValue("org")) {
			c.json(http.StatusOK, s.installationOutLocked(inst))
			return
		}
	}
	c.errorDoc(http.StatusNotFound, "Not Found", docsApps)
}

func (s *Server) findRepoInstallation(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := s.scopes[strings.ToLower(c.r.PathValue("owner")+"/"+c.r.PathValue("repo"))]
	if repo != nil && repo.kind == kindRepo {
		for _, inst := range c.appInstallationsLocked() {
			if inst.targetType != TargetEnterprise && strings.EqualFold(inst.login, repo.owner()) &&
				(inst.repos == nil || slices.Contains(inst.repos, repo.path)) {
				c.json(http.StatusOK, s.installationOutLocked(inst))
				return
			}
		}
	}
	c.errorDoc(http.StatusNotFound, "Not Found", docsApps)
}

// repositoryOut is the part of GitHub's repository object a token answer
// lists.
type repositoryOut struct {
	ID       int64         `json:"id"`
	NodeID   string        `json:"node_id"`
	Name     string        `json:"name"`
	FullName string        `json:"full_name"`
	Owner    simpleUserOut `json:"owner"`
	Private  bool          `json:"private"`
	HTMLURL  string        `json:"html_url"`
	URL      string        `json:"url"`
}

func (s *Server) createAccessToken(c *call) {
	var req struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if len(bytes.TrimSpace(c.body)) > 0 && !c.decode(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := c.installationLocked()
	if inst == nil {
		return
	}
	perms := maps.Clone(inst.permissions)
	if req.Permissions != nil {
		for name, level := range req.Permissions {
			if levelRank(level) == 0 {
				c.errorDoc(http.StatusUnprocessableEntity,
					fmt.Sprintf("The permission %q has an invalid level %q.", name, level), docsAppsTokens)
				return
			}
			if levelRank(inst.permissions[name]) < levelRank(level) {
				c.errorDoc(http.StatusUnprocessableEntity,
					"The permissions requested are not granted to this installation.", docsAppsTokens)
				return
			}
		}
		perms = withMetadata(req.Permissions)
	}
	var repos []string
	if req.Repositories != nil || req.RepositoryIDs != nil {
		reachable := s.reposLocked(inst, inst.repos)
		want := map[string]bool{}
		for _, name := range req.Repositories {
			i := slices.IndexFunc(reachable, func(sc *scope) bool {
				_, repo, _ := strings.Cut(sc.path, "/")
				return strings.EqualFold(repo, name) || strings.EqualFold(sc.path, name)
			})
			if i < 0 {
				c.errorDoc(http.StatusUnprocessableEntity,
					"There is at least one repository that does not exist or is not accessible to the parent installation.", docsAppsTokens)
				return
			}
			want[reachable[i].path] = true
		}
		for _, id := range req.RepositoryIDs {
			i := slices.IndexFunc(reachable, func(sc *scope) bool { return sc.id == id })
			if i < 0 {
				c.errorDoc(http.StatusUnprocessableEntity,
					"There is at least one repository that does not exist or is not accessible to the parent installation.", docsAppsTokens)
				return
			}
			want[reachable[i].path] = true
		}
		repos = []string{}
		for _, sc := range reachable {
			if want[sc.path] {
				repos = append(repos, sc.path)
			}
		}
	}
	tok := s.newInstallationTokenLocked(inst, perms, repos, c.now)
	out := struct {
		Token               string            `json:"token"`
		ExpiresAt           string            `json:"expires_at"`
		Permissions         map[string]string `json:"permissions"`
		RepositorySelection string            `json:"repository_selection"`
		Repositories        []repositoryOut   `json:"repositories,omitempty"`
	}{
		Token: tok.text, ExpiresAt: gitHubTime(tok.expires), Permissions: maps.Clone(tok.permissions),
		RepositorySelection: selection(tok.selected()),
	}
	if sel := tok.selected(); sel != nil {
		out.Repositories = []repositoryOut{}
		for _, sc := range s.reposLocked(inst, sel) {
			_, name, _ := strings.Cut(sc.path, "/")
			out.Repositories = append(out.Repositories, repositoryOut{
				ID: sc.id, NodeID: nodeID("R", sc.id), Name: name, FullName: sc.path,
				Owner: s.userOut(inst.login, inst.accountID, inst.targetType), Private: true,
				HTMLURL: s.WebURL(sc.path), URL: s.baseURL + "repos/" + sc.path,
			})
		}
	}
	c.json(http.StatusCreated, out)
}
