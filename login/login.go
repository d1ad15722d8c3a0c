package login

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/ratelimit"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

//go:embed templates/*.html
var templates embed.FS

// Store is the part of storage.Store that login uses.
type Store interface {
	GetUser(ctx context.Context, id string) (storage.User, error)
	GetUserByEmail(ctx context.Context, email string) (storage.User, error)
	CreateUser(ctx context.Context, u storage.User, fx storage.Effects) (storage.User, error)
	UpdateUser(ctx context.Context, id string, fx storage.Effects, mutate func(*storage.User) error) (storage.User, error)
	UseBackupCode(ctx context.Context, userID string, hash []byte) error
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
	EnqueueMail(ctx context.Context, m storage.MailJob) error
}

// Revoker ends what a user holds. provider implements it.
type Revoker interface {
	// RevokeUser revokes every refresh token, access token and browser
	// session of the user.
	RevokeUser(ctx context.Context, userID string) error
}

// Config holds a Handler's dependencies.
type Config struct {
	Site     *web.Site
	Store    Store
	Redis    redis.UniversalClient // pending sign-ins between steps
	Flows    *flow.Store
	Sessions *session.Store
	Hasher   *password.Hasher
	Checker  password.Checker
	TOTP     *mfa.TOTP
	Box      *secret.Box
	// AccountLimit counts failures per account (keyed by the typed email,
	// so that unknown emails are limited alike); IPLimit per client IP.
	AccountLimit *ratelimit.Limiter
	IPLimit      *ratelimit.Limiter
	Revoker      Revoker
	Issuer       string // public base URL, for links in emails
	// Home is where a sign-in without a flow or a return path lands: the
	// account page, named by its package.
	Home         string
	Registration bool // LATCH_REGISTRATION=open
	Log          *slog.Logger
}

// Handler serves the login pages.
type Handler struct {
	c     Config
	pages *web.Pages
}

// Page template files.
const (
	pageLogin       = "templates/login.html"
	pageCode        = "templates/code.html"
	pageNewPassword = "templates/new_password.html"
	pageRegister    = "templates/register.html"
	pageVerify      = "templates/verify.html"
	pageForgot      = "templates/forgot.html"
	pageReset       = "templates/reset.html"
	pageMessage     = "templates/message.html"
	pageUnverified  = "templates/unverified.html"
)

// New checks the configuration and parses the page templates.
func New(c Config) (*Handler, error) {
	var missing []string
	for name, ok := range map[string]bool{
		"Site": c.Site != nil, "Store": c.Store != nil, "Redis": c.Redis != nil, "Flows": c.Flows != nil,
		"Sessions": c.Sessions != nil, "Hasher": c.Hasher != nil, "TOTP": c.TOTP != nil, "Box": c.Box != nil,
		"AccountLimit": c.AccountLimit != nil, "IPLimit": c.IPLimit != nil, "Revoker": c.Revoker != nil, "Issuer": c.Issuer != "", "Home": c.Home != "",
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("login: missing %s", strings.Join(missing, ", "))
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	pages, err := c.Site.Pages(templates, pageLogin, pageCode, pageNewPassword, pageRegister, pageVerify, pageForgot, pageReset, pageMessage, pageUnverified)
	if err != nil {
		return nil, err
	}
	return &Handler{c: c, pages: pages}, nil
}

// Paths of the login pages.
const (
	PathLogin       = "/login"
	PathCode        = "/login/code"
	PathNewPassword = "/login/new-password"
	PathRegister    = "/register"
	PathVerify      = "/verify"
	PathForgot      = "/forgot"
	PathReset       = "/reset"
)

// Mount registers the login pages on r.
func (h *Handler) Mount(r *mux.Router) {
	w := h.c.Site.Wrap
	r.Handle(PathLogin, w(http.HandlerFunc(h.showLogin))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(PathLogin, w(http.HandlerFunc(h.postLogin))).Methods(http.MethodPost)
	r.Handle(PathCode, w(http.HandlerFunc(h.showCode))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(PathCode, w(http.HandlerFunc(h.postCode))).Methods(http.MethodPost)
	r.Handle(PathNewPassword, w(http.HandlerFunc(h.showNewPassword))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(PathNewPassword, w(http.HandlerFunc(h.postNewPassword))).Methods(http.MethodPost)
	r.Handle(PathRegister, w(http.HandlerFunc(h.showRegister))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(PathRegister, w(http.HandlerFunc(h.postRegister))).Methods(http.MethodPost)
	r.Handle(PathVerify, w(http.HandlerFunc(h.showVerify))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(PathVerify, w(http.HandlerFunc(h.postVerify))).Methods(http.MethodPost)
	r.Handle(PathResendVerification, w(http.HandlerFunc(h.postResendVerification))).Methods(http.MethodPost)
	r.Handle(PathForgot, w(http.HandlerFunc(h.showForgot))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(PathForgot, w(http.HandlerFunc(h.postForgot))).Methods(http.MethodPost)
	r.Handle(PathReset, w(http.HandlerFunc(h.showReset))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(PathReset, w(http.HandlerFunc(h.postReset))).Methods(http.MethodPost)
}

// messagePage is a page of plain information with an optional link.
type messagePage struct {
	Heading  string
	Message  string
	LinkText string
	LinkHref string
}

func (h *Handler) renderMessage(w http.ResponseWriter, r *http.Request, status int, v messagePage) {
	h.pages.Render(w, r, status, pageMessage, v.Heading, v)
}

// internalError logs err and answers with the generic error page.
func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.c.Log.ErrorContext(r.Context(), "login: "+what, "err", err)
	h.c.Site.Error(w, r, http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment.")
}

// busy answers a password check that found no free slot.
func (h *Handler) busy(w http.ResponseWriter, r *http.Request) { h.c.Site.Busy(w, r) }

// audit appends e (made by event), logging rather than failing the request
// on error: the event is a record, not a precondition.
func (h *Handler) audit(ctx context.Context, e storage.AuditEvent) {
	if err := h.c.Store.AppendAudit(ctx, e); err != nil {
		h.c.Log.ErrorContext(ctx, "login: append audit event", "kind", e.Kind, "err", err)
	}
}

func (h *Handler) event(r *http.Request, kind, userID string) storage.AuditEvent {
	return storage.AuditEvent{At: time.Now().UTC(), Kind: kind, UserID: userID, IP: web.ClientIP(r), UserAgent: web.UserAgent(r)}
}

// noticeMail is a security notice with the time and the address it came from.
func noticeMail(to, template string, r *http.Request) storage.MailJob {
	return storage.MailJob{To: to, Template: template, Data: map[string]string{
		"at": time.Now().UTC().Format(time.RFC1123), "ip": web.ClientIP(r),
	}}
}

// normalizeEmail is the form emails are compared and rate-limited in. It is
// valid UTF-8 without NUL, so that no typed email can fail a lookup in
// PostgreSQL: a garbled one is just an unknown email.
func normalizeEmail(s string) string {
	return web.Clip(strings.ToLower(strings.TrimSpace(s)), maxEmailInput)
}

// maxEmailInput bounds a typed email; no address is this long (validEmail
// allows 254 bytes).
const maxEmailInput = 1024

var errUsed = errors.New("login: link already used")
