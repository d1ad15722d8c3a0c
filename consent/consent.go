package consent

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/locale"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

//go:embed templates/*.html
var templates embed.FS

const pageConsent = "templates/consent.html"

// Path is where the consent page is served.
const Path = "/consent"

// Store is the part of storage.Store that consent uses.
type Store interface {
	GetUser(ctx context.Context, id string) (storage.User, error)
	GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error)
	SaveConsent(ctx context.Context, c storage.Consent) error
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
}

// Config holds a Handler's dependencies.
type Config struct {
	Site     *web.Site
	Store    Store
	Flows    *flow.Store
	Sessions *session.Store
	// Issuer names latch on the page of a client that is not registered
	// with it.
	Issuer string
	Log    *slog.Logger
}

// Handler serves the consent page.
type Handler struct {
	c     Config
	pages *web.Pages
}

// New checks the configuration and parses the page template.
func New(c Config) (*Handler, error) {
	if c.Site == nil || c.Store == nil || c.Flows == nil || c.Sessions == nil {
		return nil, errors.New("consent: Site, Store, Flows and Sessions are required")
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	pages, err := c.Site.Pages("consent", templates, pageConsent)
	if err != nil {
		return nil, err
	}
	return &Handler{c: c, pages: pages}, nil
}

// Mount registers the consent page on r.
func (h *Handler) Mount(r *mux.Router) {
	r.Handle(Path, h.c.Site.Wrap(http.HandlerFunc(h.show))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(Path, h.c.Site.Wrap(http.HandlerFunc(h.decide))).Methods(http.MethodPost)
}

// scopeText says what a scope lets the client do, in plain words (the
// message IDs).
var scopeText = map[string]string{
	"openid":         "consent.scope.openid",
	"profile":        "consent.scope.profile",
	"email":          "consent.scope.email",
	"offline_access": "consent.scope.offline_access",
}

// Describe returns the plain-words line for scope in l: a known scope's
// description, or else its name.
func Describe(l locale.Lang, scope string) string {
	if id, ok := scopeText[scope]; ok {
		return l.T(id)
	}
	return scope
}

// page is the data of the consent page.
type page struct {
	FlowID     string
	ClientName string
	Email      string
	Scopes     []string // in plain words
	APIs       []string // names of the APIs the client asks to reach
	// For a client that is not registered: the host of its metadata
	// document, which names it on the page (a name it gives itself proves
	// nothing), and the issuer it is not registered with.
	UnregisteredHost string
	Issuer           string
	// For a device's request (RFC 8628): the code the user entered, to
	// compare with the one the device shows.
	Device   bool
	UserCode string
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, v page) {
	title := "consent.title"
	if v.Device {
		title = "consent.device_title"
	}
	h.pages.Render(w, r, status, pageConsent, title, v)
}

// load returns the flow waiting for consent, checked against the browser
// session that signed in for it, and that session's user. It writes the
// error page itself and returns ok=false on failure.
func (h *Handler) load(w http.ResponseWriter, r *http.Request, id string) (*flow.Flow, storage.User, bool) {
	ctx := r.Context()
	f, err := h.c.Flows.Get(ctx, id, flow.StageConsent)
	if errors.Is(err, flow.ErrNotFound) {
		h.c.Site.Problem(w, r, http.StatusBadRequest, web.ProblemExpiredSignIn)
		return nil, storage.User{}, false
	} else if err != nil {
		h.internalError(w, r, "load flow", err)
		return nil, storage.User{}, false
	}
	sess, err := h.c.Sessions.Get(ctx, r)
	if errors.Is(err, session.ErrNoSession) || (err == nil && (sess.ID != f.SessionID || sess.UserID != f.UserID)) {
		h.c.Site.Problem(w, r, http.StatusForbidden, web.ProblemExpiredSignIn)
		return nil, storage.User{}, false
	} else if err != nil {
		h.internalError(w, r, "load session", err)
		return nil, storage.User{}, false
	}
	u, err := h.c.Store.GetUser(ctx, f.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
		h.c.Site.Error(w, r, http.StatusForbidden, "consent.cannot_grant")
		return nil, storage.User{}, false
	} else if err != nil {
		h.internalError(w, r, "load user", err)
		return nil, storage.User{}, false
	}
	return f, u, true
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	f, u, ok := h.load(w, r, r.URL.Query().Get("flow"))
	if !ok {
		return
	}
	v := page{FlowID: f.ID, ClientName: clientName(f), Email: u.Email, APIs: f.APIs, UnregisteredHost: f.UnregisteredHost, Issuer: h.c.Issuer,
		Device: f.Device != "", UserCode: f.UserCode}
	if v.Issuer == "" {
		v.Issuer = "this server"
	}
	for _, s := range f.Scopes {
		v.Scopes = append(v.Scopes, Describe(web.Lang(r), s))
	}
	h.render(w, r, http.StatusOK, v)
}

func clientName(f *flow.Flow) string {
	if f.ClientName != "" {
		return f.ClientName
	}
	return f.ClientID
}

func (h *Handler) decide(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, u, ok := h.load(w, r, r.PostFormValue("flow"))
	if !ok {
		return
	}
	e := storage.AuditEvent{At: time.Now().UTC(), UserID: u.ID, ClientID: f.ClientID, IP: web.ClientIP(r), UserAgent: web.UserAgent(r)}
	switch r.PostFormValue("decision") {
	case "allow":
		// A client that is not registered is asked every time: its consent
		// is not kept (storage keeps consents of registered clients only).
		if f.UnregisteredHost == "" {
			if err := h.remember(ctx, u.ID, f.ClientID, f.Scopes); err != nil {
				h.internalError(w, r, "save consent", err)
				return
			}
		}
		f.Consented, f.Denied = true, false
		f.GrantedScopes = slices.Clone(f.Scopes)
		e.Kind = "consent_granted"
		e.Detail = map[string]string{"scopes": strings.Join(f.Scopes, " ")}
	case "deny":
		f.Denied, f.Consented = true, false
		f.GrantedScopes = nil
		e.Kind = "consent_denied"
	default:
		h.c.Site.Error(w, r, http.StatusBadRequest, "consent.choose")
		return
	}
	f.Stage = flow.StageResume
	if err := h.c.Flows.Save(ctx, f); errors.Is(err, flow.ErrNotFound) {
		h.c.Site.Problem(w, r, http.StatusBadRequest, web.ProblemExpiredSignIn)
		return
	} else if err != nil {
		h.internalError(w, r, "save flow", err)
		return
	}
	if err := h.c.Store.AppendAudit(ctx, e); err != nil {
		h.c.Log.ErrorContext(ctx, "consent: append audit event", "err", err)
	}
	web.Redirect(w, r, h.c.Flows.URL(flow.StageResume, f.ID))
}

// remember stores the union of the scopes already granted and these.
func (h *Handler) remember(ctx context.Context, userID, clientID string, scopes []string) error {
	c, err := h.c.Store.GetConsent(ctx, userID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		c = storage.Consent{UserID: userID, ClientID: clientID}
	} else if err != nil {
		return fmt.Errorf("load consent: %w", err)
	}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			c.Scopes = append(c.Scopes, s)
		}
	}
	return h.c.Store.SaveConsent(ctx, c)
}

func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.c.Site.Fail(w, r, h.c.Log, "consent: "+what, err)
}
