package admin

import (
	"embed"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/login"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// The admin console: server-rendered pages over the same operations as
// the API, with the page plumbing of the account pages (security headers,
// CSRF on every form, no script). An administrator signs in through latch
// itself; one with a second factor must have used it within
// consoleFreshness.

//go:embed templates/*.html
var consoleTemplates embed.FS

// Paths of the console: its home is Path itself; its pages are below
// ConsolePath, apart from the API's.
const (
	ConsolePath      = Path + "/ui"
	consoleFreshness = time.Hour
)

const (
	pageHome      = "templates/home.html"
	pageClients   = "templates/clients.html"
	pageClient    = "templates/client.html"
	pageResources = "templates/resources.html"
	pageUsers     = "templates/users.html"
	pageUser      = "templates/user.html"
	pageKeys      = "templates/keys.html"
	pageAudit     = "templates/audit.html"
)

// consolePage is what every console page shows around its own data.
type consolePage struct {
	Nav    []navLink
	Notice string
	Error  string
	Data   any
}

type navLink struct{ Href, Label string }

var consoleNav = []navLink{
	{Path, "Overview"}, {ConsolePath + "/clients", "Clients"}, {ConsolePath + "/resources", "API resources"},
	{ConsolePath + "/users", "Users"}, {ConsolePath + "/keys", "Signing keys"}, {ConsolePath + "/audit", "Audit log"},
}

// notices are the fixed confirmations a redirect back to a page may ask for.
var notices = map[string]string{
	"deleted": "Deleted.", "rotated": "New signing keys were made; they sign once published.", "created": "Created.",
	"role": "The role was changed.", "disable": "The user is disabled and signed out everywhere.", "enable": "The user is enabled.",
	"reset-mfa": "The second factor was turned off.", "revoke": "Every session and token of the user was ended.",
	"send-password-reset": "A password reset link was sent.",
}

func (h *Handler) mountConsole(r *mux.Router) {
	if h.c.Site == nil || h.c.Sessions == nil {
		return
	}
	get := func(p string, f func(*call)) {
		r.Handle(p, h.c.Site.Wrap(h.console(f))).Methods(http.MethodGet, http.MethodHead)
	}
	post := func(p string, f func(*call)) { r.Handle(p, h.c.Site.Wrap(h.console(f))).Methods(http.MethodPost) }
	get(Path, h.showHome)
	get(ConsolePath+"/clients", h.showClients)
	post(ConsolePath+"/clients", h.postClient)
	get(ConsolePath+"/clients/{id}", h.showClient)
	post(ConsolePath+"/clients/{id}/rotate-secret", h.postRotateSecret)
	post(ConsolePath+"/clients/{id}/delete", h.postDeleteClient)
	get(ConsolePath+"/resources", h.showResources)
	post(ConsolePath+"/resources", h.postResource)
	post(ConsolePath+"/resources/delete", h.postDeleteResource)
	get(ConsolePath+"/users", h.showUsers)
	get(ConsolePath+"/users/{id}", h.showUser)
	post(ConsolePath+"/users/{id}/{action}", h.postUserAction)
	get(ConsolePath+"/keys", h.showKeys)
	post(ConsolePath+"/keys/rotate", h.postRotateKeys)
	get(ConsolePath+"/audit", h.showAudit)
}

// console admits the browser session of an administrator, freshly
// authenticated with their second factor when they have one.
func (h *Handler) console(f func(*call)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		back := "?return_to=" + r.URL.EscapedPath()
		sess, err := h.c.Sessions.Get(ctx, r)
		if errors.Is(err, session.ErrNoSession) {
			web.Redirect(w, r, login.PathLogin+back)
			return
		} else if err != nil {
			h.pageError(w, r, "load session", err)
			return
		}
		u, err := h.c.Store.GetUser(ctx, sess.UserID)
		switch {
		case errors.Is(err, storage.ErrNotFound) || (err == nil && (u.Disabled || u.Role != storage.RoleAdmin)):
			h.c.Site.Error(w, r, http.StatusForbidden, "error.admins_only")
			return
		case err != nil:
			h.pageError(w, r, "load user", err)
			return
		case u.TOTPEnabled() && !login.Recent(sess, consoleFreshness, true):
			login.Reauthenticate(w, r, r.URL.EscapedPath())
			return
		}
		f(&call{w: w, r: r, ctx: ctx, actor: accounts.Actor{IP: web.ClientIP(r), UserAgent: web.UserAgent(r), By: "user:" + u.ID}})
	})
}

func (h *Handler) render(c *call, status int, page, title string, v consolePage) {
	v.Nav = consoleNav
	if v.Notice == "" {
		v.Notice = notices[c.r.URL.Query().Get("done")]
	}
	h.pages.Render(c.w, c.r, status, page, title, v)
}

// pageFailed shows err on the page's own form (a refusal) or as an error
// page; true when there was one.
func (h *Handler) pageFailed(c *call, err error, again func(msg string)) bool {
	var ref *refusal
	switch {
	case err == nil:
		return false
	case errors.As(err, &ref) && ref.status == http.StatusNotFound:
		h.c.Site.Error(c.w, c.r, http.StatusNotFound, ref.About)
	case errors.As(err, &ref):
		again(ref.About)
	default:
		h.pageError(c.w, c.r, "console", err)
	}
	return true
}

func (h *Handler) pageError(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.c.Site.Fail(w, r, h.c.Log, "admin console: "+what, err)
}

func (h *Handler) showHome(c *call) {
	h.render(c, http.StatusOK, pageHome, "Admin console", consolePage{})
}

// --- clients ---

type clientsPage struct {
	Clients     []clients.Metadata
	Form        clientForm
	Grants      []option
	AuthMethods []option
	IDTokenAlgs []option // "" for the server's
}

// option is a choice on a form, and whether it is chosen.
type option struct {
	Value string
	Label string // what the form shows; Value when empty
	On    bool
}

func options(values []string, on func(string) bool) []option {
	out := make([]option, 0, len(values))
	for _, v := range values {
		out = append(out, option{Value: v, On: on(v)})
	}
	return out
}

// grantOptions are the form's grant type checkboxes, with on checked. The
// device grant's URN is shown by the name people know it by.
func grantOptions(on []string) []option {
	out := options(clients.GrantTypes(), func(g string) bool { return slices.Contains(on, g) })
	for i := range out {
		if out[i].Value == clients.GrantDeviceCode {
			out[i].Label = "device_code (device authorization, RFC 8628)"
		}
	}
	return out
}

// clientForm is the registration form, as entered.
type clientForm struct {
	Name, RedirectURIs, Scope, AuthMethod string
	Grants                                []string
	FirstParty                            bool
	DPoPBound                             bool
	BackchannelLogoutURI                  string
	IDTokenAlg                            string
}

func (h *Handler) showClients(c *call) {
	h.clientsPage(c, http.StatusOK, clientForm{Scope: "openid profile email", AuthMethod: storage.AuthMethodBasic, Grants: []string{clients.GrantAuthorizationCode}}, "")
}

func (h *Handler) clientsPage(c *call, status int, f clientForm, msg string) {
	cs, err := h.c.Store.ListClients(c.ctx)
	if err != nil {
		h.pageError(c.w, c.r, "list clients", err)
		return
	}
	v := clientsPage{Form: f,
		Grants:      grantOptions(f.Grants),
		AuthMethods: options([]string{storage.AuthMethodBasic, storage.AuthMethodPost, storage.AuthMethodNone}, func(m string) bool { return m == f.AuthMethod }),
		IDTokenAlgs: options(append([]string{""}, keys.Algorithms()...), func(a string) bool { return a == f.IDTokenAlg }),
	}
	for _, cl := range cs {
		v.Clients = append(v.Clients, clients.ToMetadata(cl))
	}
	h.render(c, status, pageClients, "Clients", consolePage{Error: msg, Data: v})
}

func (h *Handler) postClient(c *call) {
	r := c.r
	f := clientForm{Name: r.PostFormValue("client_name"), RedirectURIs: r.PostFormValue("redirect_uris"), Scope: r.PostFormValue("scope"),
		AuthMethod: r.PostFormValue("token_endpoint_auth_method"), Grants: r.PostForm["grant_types"], FirstParty: r.PostFormValue("first_party") == "on",
		DPoPBound: r.PostFormValue("dpop_bound_access_tokens") == "on", BackchannelLogoutURI: strings.TrimSpace(r.PostFormValue("backchannel_logout_uri")),
		IDTokenAlg: r.PostFormValue("id_token_signed_response_alg")}
	m := clients.Metadata{ClientName: f.Name, RedirectURIs: strings.Fields(f.RedirectURIs), Scope: f.Scope,
		TokenEndpointAuthMethod: f.AuthMethod, GrantTypes: f.Grants, FirstParty: f.FirstParty, DPoPBoundAccessTokens: f.DPoPBound,
		BackchannelLogoutURI: f.BackchannelLogoutURI, BackchannelLogoutSessionRequired: f.BackchannelLogoutURI != "",
		IDTokenSignedResponseAlg: f.IDTokenAlg}
	cl, sec, err := h.opCreateClient(c, m)
	if h.pageFailed(c, err, func(msg string) { h.clientsPage(c, http.StatusBadRequest, f, msg) }) {
		return
	}
	h.clientPage(c, cl, sec, "The client is registered.")
}

type clientPage struct {
	Client clients.Metadata
	Secret string // shown once, just made
}

func (h *Handler) loadConsoleClient(c *call) (storage.Client, bool) {
	cl, err := h.c.Store.GetClient(c.ctx, c.pathVar("id"))
	if errors.Is(err, storage.ErrNotFound) {
		h.c.Site.Error(c.w, c.r, http.StatusNotFound, "There is no such client.")
		return cl, false
	} else if err != nil {
		h.pageError(c.w, c.r, "load client", err)
		return cl, false
	}
	return cl, true
}

func (h *Handler) showClient(c *call) {
	if cl, ok := h.loadConsoleClient(c); ok {
		h.clientPage(c, cl, "", "")
	}
}

func (h *Handler) clientPage(c *call, cl storage.Client, secret, notice string) {
	title := cl.Name
	if title == "" {
		title = cl.ID
	}
	h.render(c, http.StatusOK, pageClient, title, consolePage{Notice: notice, Data: clientPage{Client: clients.ToMetadata(cl), Secret: secret}})
}

func (h *Handler) postRotateSecret(c *call) {
	cl, ok := h.loadConsoleClient(c)
	if !ok {
		return
	}
	cl, sec, err := h.opRotateSecret(c, cl)
	if h.pageFailed(c, err, func(msg string) { h.clientPage(c, cl, "", msg) }) {
		return
	}
	h.clientPage(c, cl, sec, "The client has a new secret; the old one no longer works.")
}

func (h *Handler) postDeleteClient(c *call) {
	if !h.pageFailed(c, h.opDeleteClient(c, c.pathVar("id")), nil) {
		web.Redirect(c.w, c.r, ConsolePath+"/clients?done=deleted")
	}
}

// --- resources ---

type resourcesPage struct {
	Resources []resources.Metadata
	Form      resources.Metadata
	Scopes    string // the form's scopes, space-separated
	// Introspectors is the form's introspection clients, space-separated.
	Introspectors string
}

func (h *Handler) showResources(c *call) { h.resourcesPage(c, http.StatusOK, resourcesPage{}, "") }

func (h *Handler) resourcesPage(c *call, status int, v resourcesPage, msg string) {
	rs, err := h.c.Store.ListResources(c.ctx)
	if err != nil {
		h.pageError(c.w, c.r, "list resources", err)
		return
	}
	for _, r := range rs {
		v.Resources = append(v.Resources, resources.ToMetadata(r))
	}
	h.render(c, status, pageResources, "API resources", consolePage{Error: msg, Data: v})
}

func (h *Handler) postResource(c *call) {
	r := c.r
	v := resourcesPage{Form: resources.Metadata{Resource: strings.TrimSpace(r.PostFormValue("resource")), Name: r.PostFormValue("name"),
		AccessTokenTTL: strings.TrimSpace(r.PostFormValue("access_token_ttl"))}, Scopes: r.PostFormValue("scopes"),
		Introspectors: r.PostFormValue("introspection_clients")}
	v.Form.Scopes = strings.Fields(v.Scopes)
	v.Form.IntrospectionClients = strings.Fields(v.Introspectors)
	_, err := h.opCreateResource(c, v.Form)
	if !h.pageFailed(c, err, func(msg string) { h.resourcesPage(c, http.StatusBadRequest, v, msg) }) {
		web.Redirect(c.w, c.r, ConsolePath+"/resources?done=created")
	}
}

func (h *Handler) postDeleteResource(c *call) {
	if !h.pageFailed(c, h.opDeleteResource(c, c.r.PostFormValue("resource")), nil) {
		web.Redirect(c.w, c.r, ConsolePath+"/resources?done=deleted")
	}
}

// --- users ---

type usersPage struct {
	Query string
	Users []userView
}

// consoleUsersShown bounds a search's answer on the page.
const consoleUsersShown = 100

func (h *Handler) showUsers(c *call) {
	q := strings.TrimSpace(c.r.URL.Query().Get("q"))
	us, err := h.c.Store.ListUsers(c.ctx)
	if err != nil {
		h.pageError(c.w, c.r, "list users", err)
		return
	}
	v := usersPage{Query: q}
	for _, u := range searchUsers(us, q) {
		v.Users = append(v.Users, viewUser(u))
		if len(v.Users) == consoleUsersShown {
			break
		}
	}
	h.render(c, http.StatusOK, pageUsers, "Users", consolePage{Data: v})
}

type userPage struct {
	User        userView
	Apps        []string
	BackupCodes int
	Passkeys    []passkeyView
	Sessions    []sessionView
	Roles       []string
}

func (h *Handler) showUser(c *call) {
	u, err := h.c.Store.GetUser(c.ctx, c.pathVar("id"))
	if errors.Is(err, storage.ErrNotFound) {
		h.c.Site.Error(c.w, c.r, http.StatusNotFound, "There is no such user.")
		return
	} else if err != nil {
		h.pageError(c.w, c.r, "load user", err)
		return
	}
	consents, err := h.c.Store.ListConsents(c.ctx, u.ID)
	if err != nil {
		h.pageError(c.w, c.r, "list consents", err)
		return
	}
	codes, err := h.c.Store.CountBackupCodes(c.ctx, u.ID)
	if err != nil {
		h.pageError(c.w, c.r, "count backup codes", err)
		return
	}
	sessions, err := h.userSessions(c, u.ID)
	if err != nil {
		h.pageError(c.w, c.r, "list sessions", err)
		return
	}
	passkeys, err := h.userPasskeys(c, u.ID)
	if err != nil {
		h.pageError(c.w, c.r, "list passkeys", err)
		return
	}
	v := userPage{User: viewUser(u), BackupCodes: codes, Passkeys: passkeys, Sessions: sessions, Roles: []string{storage.RoleUser, storage.RoleAdmin}}
	for _, cs := range consents {
		v.Apps = append(v.Apps, cs.ClientID)
	}
	h.render(c, http.StatusOK, pageUser, u.Email, consolePage{Data: v})
}

// postUserAction runs one of the user actions of the API, or sets the
// role, and goes back to the user's page.
func (h *Handler) postUserAction(c *call) {
	id, action := c.pathVar("id"), c.pathVar("action")
	var err error
	switch action {
	case "role":
		_, err = h.c.Accounts.SetRole(c.ctx, c.actor, id, c.r.PostFormValue("role"))
	case "disable":
		_, err = h.c.Accounts.SetDisabled(c.ctx, c.actor, id, true)
	case "enable":
		_, err = h.c.Accounts.SetDisabled(c.ctx, c.actor, id, false)
	case "reset-mfa":
		_, err = h.c.Accounts.ResetMFA(c.ctx, c.actor, id)
	case "revoke":
		var u storage.User
		if u, err = h.c.Store.GetUser(c.ctx, id); err == nil {
			_, err = h.revokeUser(c, u)
		}
	default:
		h.c.Site.Error(c.w, c.r, http.StatusNotFound, "There is no such action.")
		return
	}
	var verr *accounts.ValidationError
	switch {
	case errors.Is(err, storage.ErrNotFound):
		h.c.Site.Error(c.w, c.r, http.StatusNotFound, "There is no such user.")
	case errors.As(err, &verr):
		h.c.Site.Error(c.w, c.r, http.StatusBadRequest, verr.Message)
	case err != nil:
		h.pageError(c.w, c.r, "user action", err)
	default:
		web.Redirect(c.w, c.r, ConsolePath+"/users/"+id+"?done="+action)
	}
}

// --- keys and audit ---

func (h *Handler) showKeys(c *call) {
	h.render(c, http.StatusOK, pageKeys, "Signing keys", consolePage{Data: h.c.Keys.List()})
}

func (h *Handler) postRotateKeys(c *call) {
	if !h.pageFailed(c, h.opRotateKeys(c), nil) {
		web.Redirect(c.w, c.r, ConsolePath+"/keys?done=rotated")
	}
}

type auditPage struct {
	Type, User, Client string
	Events             []auditView
}

// consoleAuditShown is how many events the page shows, newest first.
const consoleAuditShown = 100

func (h *Handler) showAudit(c *call) {
	q := c.r.URL.Query()
	v := auditPage{Type: q.Get("type"), User: q.Get("user"), Client: q.Get("client")}
	es, err := h.c.Store.QueryAudit(c.ctx, storage.AuditQuery{Kind: v.Type, UserID: v.User, ClientID: v.Client, Limit: consoleAuditShown})
	if err != nil {
		h.pageError(c.w, c.r, "query audit", err)
		return
	}
	for _, e := range es {
		v.Events = append(v.Events, viewEvent(e))
	}
	h.render(c, http.StatusOK, pageAudit, "Audit log", consolePage{Data: v})
}
