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

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/ratelimit"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/telemetry"
	"github.com/latch-idp/latch/web"
)

//go:embed templates/*.html
var templates embed.FS

// Store is the part of storage.Store that login uses.
type Store interface {
	GetUser(ctx context.Context, id string) (storage.User, error)
	GetUserByEmail(ctx context.Context, email string) (storage.User, error)
	UseBackupCode(ctx context.Context, userID string, hash []byte) error
	ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error)
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
}

// Config holds a Handler's dependencies.
type Config struct {
	Site     *web.Site
	Store    Store
	Redis    redis.UniversalClient // pending sign-ins between steps
	Flows    *flow.Store
	Sessions *session.Store
	// Accounts applies the account rules: every password, address and
	// account change goes through it.
	Accounts *accounts.Service
	TOTP     *mfa.TOTP
	Passkeys *passkey.Service
	Box      *secret.Box
	// AccountLimit counts failures per account (keyed by the typed email,
	// so that unknown emails are limited alike); IPLimit per client IP.
	AccountLimit *ratelimit.Limiter
	IPLimit      *ratelimit.Limiter
	Issuer       string // public base URL, for links in emails
	// Home is where a sign-in without a flow or a return path lands: the
	// account page, named by its package.
	Home         string
	Registration bool // LATCH_REGISTRATION=open
	Log          *slog.Logger
	// Metrics counts sign-in steps passed and failed; may be nil.
	Metrics *telemetry.Metrics
}

// Handler serves the login pages.
type Handler struct {
	c     Config
	pages *web.Pages
	// attempts checks passwords and codes under both limits.
	attempts *accounts.Attempts
	// ceremonies bounds the passwordless sign-ins one network may begin:
	// each holds a challenge in Redis until it expires.
	ceremonies *ratelimit.Limiter
}

// Passwordless sign-ins one client network may begin per window.
const (
	ceremoniesPerWindow = 60
	ceremonyWindow      = 15 * time.Minute
)

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
	pageResetFactor = "templates/reset_factors.html"
)

// New checks the configuration and parses the page templates.
func New(c Config) (*Handler, error) {
	var missing []string
	for name, ok := range map[string]bool{
		"Site": c.Site != nil, "Store": c.Store != nil, "Redis": c.Redis != nil, "Flows": c.Flows != nil,
		"Sessions": c.Sessions != nil, "Accounts": c.Accounts != nil, "TOTP": c.TOTP != nil, "Passkeys": c.Passkeys != nil, "Box": c.Box != nil,
		"AccountLimit": c.AccountLimit != nil, "IPLimit": c.IPLimit != nil, "Issuer": c.Issuer != "", "Home": c.Home != "",
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
	pages, err := c.Site.Pages("login", templates, pageLogin, pageCode, pageNewPassword, pageRegister, pageVerify, pageForgot, pageReset, pageMessage, pageUnverified, pageResetFactor)
	if err != nil {
		return nil, err
	}
	return &Handler{
		c: c, pages: pages, attempts: accounts.NewAttempts(c.AccountLimit, c.IPLimit, c.Log),
		ceremonies: ratelimit.New(c.Redis, "passkey-signin", ceremoniesPerWindow, ceremonyWindow).WithMetrics(c.Metrics),
	}, nil
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
	PathResetFactor = "/reset/factors"
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
	r.Handle(PathRegisterResend, w(http.HandlerFunc(h.postRegisterResend))).Methods(http.MethodPost)
	r.Handle(PathForgot, w(http.HandlerFunc(h.showForgot))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(PathForgot, w(http.HandlerFunc(h.postForgot))).Methods(http.MethodPost)
	r.Handle(PathReset, w(http.HandlerFunc(h.showReset))).Methods(http.MethodGet, http.MethodHead)
	r.Handle(PathReset, w(http.HandlerFunc(h.postReset))).Methods(http.MethodPost)
	r.Handle(PathResetFactor, w(http.HandlerFunc(h.postResetFactor))).Methods(http.MethodPost)
	r.Handle(PathPasskey, w(http.HandlerFunc(h.postPasskey))).Methods(http.MethodPost)
	r.Handle(PathPasskeyOptions, w(http.HandlerFunc(h.passkeySignInOptions))).Methods(http.MethodPost)
	r.Handle(PathCodePasskey, w(http.HandlerFunc(h.postCodePasskey))).Methods(http.MethodPost)
	r.Handle(PathCodePasskeyOptions, w(http.HandlerFunc(h.passkeyVerifyOptions))).Methods(http.MethodPost)
}

// messagePage is a page of plain information with an optional link:
// Heading and LinkText are message IDs, Message is in the request's
// language already (it carries values).
type messagePage struct {
	Heading  string
	Message  string
	LinkText string
	LinkHref string
	Again    *againForm // a "check your email" page's way to send it again
}

// againForm posts Fields to Action to send an email again.
type againForm struct {
	Action string
	Fields map[string]string
}

func (h *Handler) renderMessage(w http.ResponseWriter, r *http.Request, status int, v messagePage) {
	h.pages.Render(w, r, status, pageMessage, v.Heading, v)
}

// internalError logs err and answers with the generic error page.
func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.c.Site.Fail(w, r, h.c.Log, "login: "+what, err)
}

// busy answers a password check that found no free slot.
func (h *Handler) busy(w http.ResponseWriter, r *http.Request) { h.c.Site.Busy(w, r) }

// countStep counts a sign-in step by how its attempt ended: passed; wrong
// for reason, when the secret was checked and wrong (a failure that also
// locks the key out counts as wrong); refused by a rate limit without a
// check; or the server too busy to hash. Errors of latch's own (a store
// down) are no sign-in outcome.
func (h *Handler) countStep(step string, err error, reason string) {
	_, locked := accounts.Locked(err)
	switch {
	case err == nil:
		h.c.Metrics.SignIn(step, "")
	case reason != "":
		h.c.Metrics.SignIn(step, reason)
	case locked:
		h.c.Metrics.SignIn(step, telemetry.ReasonLocked)
	case errors.Is(err, password.ErrBusy):
		h.c.Metrics.SignIn(step, telemetry.ReasonBusy)
	}
}

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

// actor is who makes a change through r, for the account service.
func actor(r *http.Request) accounts.Actor {
	return accounts.Actor{IP: web.ClientIP(r), UserAgent: web.UserAgent(r), Lang: web.Lang(r).Code()}
}
