package account

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

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/consent"
	"github.com/latch-idp/latch/login"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/ratelimit"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

//go:embed templates/*.html
var templates embed.FS

// Page template files.
const (
	pageAccount = "templates/account.html"
	pageTOTP    = "templates/totp.html"
	pageCodes   = "templates/codes.html"

	pageEmailConfirm = "templates/email_confirm.html"
)

// Paths of the account pages.
const (
	Path            = "/account"
	PathPassword    = "/account/password"
	PathTOTP        = "/account/totp"
	PathTOTPDisable = "/account/totp/disable"
	PathBackupCodes = "/account/backup-codes"
	PathRevokeApp   = "/account/apps/revoke"
	PathEndSession  = "/account/sessions/end"
	PathSignOut     = "/account/signout"

	PathPasskeys       = "/account/passkeys"
	PathPasskeyOptions = "/account/passkeys/options"
	PathPasskeyRename  = "/account/passkeys/rename"
	PathPasskeyRemove  = "/account/passkeys/remove"
)

// Store is the part of storage.Store that the account page uses.
type Store interface {
	GetUser(ctx context.Context, id string) (storage.User, error)
	SetTOTP(ctx context.Context, userID string, secret []byte, backupHashes [][]byte, fx storage.Effects) (storage.User, error)
	ReplaceBackupCodes(ctx context.Context, userID string, hashes [][]byte, fx storage.Effects) error
	UseBackupCode(ctx context.Context, userID string, hash []byte) error
	CountBackupCodes(ctx context.Context, userID string) (int, error)
	ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error)
	ListConsents(ctx context.Context, userID string) ([]storage.Consent, error)
	ListClients(ctx context.Context) ([]storage.Client, error)
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
}

// Config holds a Handler's dependencies.
type Config struct {
	Site     *web.Site
	Store    Store
	Sessions *session.Store
	// Accounts applies the account rules: a new password and the end of
	// a grant go through it.
	Accounts *accounts.Service
	TOTP     *mfa.TOTP
	Passkeys *passkey.Service
	Box      *secret.Box
	// Limit counts failed current-password and code entries per user.
	Limit *ratelimit.Limiter
	// Reauth is how recent the sign-in must be before a factor is added;
	// login.ReauthWindow when zero.
	Reauth time.Duration
	Log    *slog.Logger
}

// Handler serves the account page.
type Handler struct {
	c     Config
	pages *web.Pages
	// attempts checks the current password and codes under Limit.
	attempts *accounts.Attempts
}

// New checks the configuration and parses the page templates.
func New(c Config) (*Handler, error) {
	var missing []string
	for name, ok := range map[string]bool{
		"Site": c.Site != nil, "Store": c.Store != nil, "Sessions": c.Sessions != nil, "Accounts": c.Accounts != nil,
		"TOTP": c.TOTP != nil, "Passkeys": c.Passkeys != nil, "Box": c.Box != nil, "Limit": c.Limit != nil,
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("account: missing %s", strings.Join(missing, ", "))
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Reauth <= 0 {
		c.Reauth = login.ReauthWindow
	}
	pages, err := c.Site.Pages("account", templates, pageAccount, pageTOTP, pageCodes, pageEmailConfirm)
	if err != nil {
		return nil, err
	}
	return &Handler{c: c, pages: pages, attempts: accounts.NewAttempts(c.Limit, nil, c.Log)}, nil
}

// Mount registers the account pages on r.
func (h *Handler) Mount(r *mux.Router) {
	get := func(p string, f http.HandlerFunc) {
		r.Handle(p, h.c.Site.Wrap(f)).Methods(http.MethodGet, http.MethodHead)
	}
	post := func(p string, f http.HandlerFunc) {
		r.Handle(p, h.c.Site.Wrap(f)).Methods(http.MethodPost)
	}
	get(Path, h.show)
	post(PathPassword, h.changePassword)
	get(PathTOTP, h.showTOTP)
	post(PathTOTP, h.confirmTOTP)
	post(PathTOTPDisable, h.disableTOTP)
	post(PathBackupCodes, h.regenerateCodes)
	post(PathRevokeApp, h.revokeApp)
	post(PathEndSession, h.endSession)
	post(PathSignOut, h.signOut)
	post(PathName, h.changeName)
	post(PathEmail, h.requestEmailChange)
	get(PathEmailConfirm, h.showEmailConfirm)
	post(PathEmailConfirm, h.confirmEmail)
	post(PathDelete, h.deleteAccount)
	post(PathPasskeys, h.addPasskey)
	post(PathPasskeyOptions, h.passkeyOptions)
	post(PathPasskeyRename, h.renamePasskey)
	post(PathPasskeyRemove, h.removePasskey)
}

// signedIn returns the request's session and its user. Without one it
// redirects to the sign-in page, which comes back here, and returns false.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) (*session.Session, storage.User, bool) {
	ctx := r.Context()
	sess, err := h.c.Sessions.Get(ctx, r)
	if errors.Is(err, session.ErrNoSession) {
		web.Redirect(w, r, login.PathLogin+"?return_to="+Path)
		return nil, storage.User{}, false
	} else if err != nil {
		h.internalError(w, r, "load session", err)
		return nil, storage.User{}, false
	}
	u, err := h.c.Store.GetUser(ctx, sess.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
		if err := h.c.Sessions.End(ctx, w, r); err != nil {
			h.c.Log.WarnContext(ctx, "account: end session", "err", err)
		}
		web.Redirect(w, r, login.PathLogin)
		return nil, storage.User{}, false
	} else if err != nil {
		h.internalError(w, r, "load user", err)
		return nil, storage.User{}, false
	}
	return sess, u, true
}

func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.c.Site.Fail(w, r, h.c.Log, "account: "+what, err)
}

func (h *Handler) busy(w http.ResponseWriter, r *http.Request) { h.c.Site.Busy(w, r) }

// actor is who makes a change through r, for the account service.
func actor(r *http.Request) accounts.Actor {
	return accounts.Actor{IP: web.ClientIP(r), UserAgent: web.UserAgent(r), Lang: web.Lang(r).Code()}
}

func (h *Handler) event(r *http.Request, kind, userID string) storage.AuditEvent {
	return storage.AuditEvent{At: time.Now().UTC(), Kind: kind, UserID: userID, IP: web.ClientIP(r), UserAgent: web.UserAgent(r)}
}

func (h *Handler) audit(ctx context.Context, e storage.AuditEvent) {
	if err := h.c.Store.AppendAudit(ctx, e); err != nil {
		h.c.Log.ErrorContext(ctx, "account: append audit event", "kind", e.Kind, "err", err)
	}
}

// accountPage is the data of the account page.
type accountPage struct {
	Email, Name string
	Notice      string
	NameError   string // tied to the name field
	NewEmail    string // as typed, after a refused change
	EmailError  string // tied to new_email
	// EmailPasswordError and DeleteError are tied to the current_password
	// fields of the address change and of the deletion.
	EmailPasswordError string
	DeleteError        string
	CurrentError       string // tied to current_password
	NewError           string // tied to new_password
	TOTPEnabled        bool
	DisableError       string // tied to the code field of the turn-off form
	CodesError         string // tied to the code field of the new-backup-codes form
	BackupCodesLeft    int
	PasskeysOn         bool // passkeys are on: the section is shown
	Passkeys           []passkeyRow
	PasskeyError       string // shown in the passkeys section
	Apps               []app
	Sessions           []sessionRow
}

type app struct {
	ClientID string
	Name     string
	Scopes   []string // in plain words
}

// sessionRow is one browser session on the page. Times read as how long
// ago they were, which needs no time zone; the exact UTC time is in the
// element's title and datetime.
type sessionRow struct {
	ID                    string
	Current               bool
	IP                    string
	Device                string // such as "Firefox on Linux"
	Started, LastSeen     string // such as "3 hours ago"
	StartedAt, LastSeenAt time.Time
}

// notices are the fixed confirmations a redirect back here may ask for.
var notices = map[string]string{
	"password": "account.notice.password",
	"totp_off": "account.notice.totp_off",
	"app":      "account.notice.app",
	"session":  "account.notice.session",

	"passkey_added":   "account.notice.passkey_added",
	"passkey_renamed": "account.notice.passkey_renamed",
	"passkey_removed": "account.notice.passkey_removed",
}

func (h *Handler) show(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	var v accountPage
	if id, ok := notices[r.URL.Query().Get("done")]; ok {
		v.Notice = web.T(r, id)
	}
	h.renderAccount(w, r, http.StatusOK, sess, u, v)
}

func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, status int, sess *session.Session, u storage.User, v accountPage) {
	ctx := r.Context()
	v.Email, v.Name, v.TOTPEnabled = u.Email, u.Name, u.TOTPEnabled()
	n, err := h.c.Store.CountBackupCodes(ctx, u.ID)
	if err != nil {
		h.internalError(w, r, "count backup codes", err)
		return
	}
	v.BackupCodesLeft = n
	if v.PasskeysOn = h.c.Passkeys.Off() == ""; v.PasskeysOn {
		if v.Passkeys, err = h.passkeyRows(ctx, web.Lang(r), u.ID); err != nil {
			h.internalError(w, r, "list passkeys", err)
			return
		}
	}
	consents, err := h.c.Store.ListConsents(ctx, u.ID)
	if err != nil {
		h.internalError(w, r, "list consents", err)
		return
	}
	// One query for the names, not one per app; only when there are apps
	// to name, which is not the common case.
	names := map[string]string{}
	if len(consents) > 0 {
		clients, err := h.c.Store.ListClients(ctx)
		if err != nil {
			h.internalError(w, r, "list clients", err)
			return
		}
		for _, cl := range clients {
			names[cl.ID] = cl.Name
		}
	}
	for _, c := range consents {
		a := app{ClientID: c.ClientID, Name: c.ClientID}
		if n := names[c.ClientID]; n != "" {
			a.Name = n
		}
		for _, s := range c.Scopes {
			a.Scopes = append(a.Scopes, consent.Describe(web.Lang(r), s))
		}
		v.Apps = append(v.Apps, a)
	}
	slices.SortFunc(v.Apps, func(a, b app) int { return strings.Compare(a.Name, b.Name) })
	list, err := h.c.Sessions.List(ctx, u.ID)
	if err != nil {
		h.internalError(w, r, "list sessions", err)
		return
	}
	slices.SortFunc(list, func(a, b *session.Session) int { return b.LastSeen.Compare(a.LastSeen) })
	now, l := time.Now(), web.Lang(r)
	for _, s := range list {
		v.Sessions = append(v.Sessions, sessionRow{
			ID: s.ID, Current: s.ID == sess.ID, IP: s.IP, Device: web.Device(l, s.UserAgent),
			Started: web.Ago(l, s.CreatedAt, now), LastSeen: web.Ago(l, s.LastSeen, now),
			StartedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeen.UTC(),
		})
	}
	if !v.PasskeysOn {
		h.pages.Render(w, r, status, pageAccount, "account.title", v)
		return
	}
	h.pages.RenderScript(w, r, status, pageAccount, "account.title", web.ScriptPasskey, v)
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	err := h.c.Accounts.ChangePassword(ctx, actor(r), accounts.PasswordChange{
		User: u, Current: r.PostFormValue("current_password"), New: r.PostFormValue("new_password"), Attempts: h.attempts,
	})
	if invalid := accounts.Invalid(err); len(invalid) > 0 {
		h.renderAccount(w, r, http.StatusBadRequest, sess, u, accountPage{NewError: invalid[0].In(web.Lang(r))})
		return
	} else if errors.Is(err, accounts.ErrStale) {
		h.renderAccount(w, r, http.StatusConflict, sess, u, accountPage{CurrentError: web.T(r, "account.password_stale")})
		return
	} else if !h.attempted(w, r, err, wrongPassword,
		h.onAccount(w, r, sess, u, func(v *accountPage, msg string) { v.CurrentError = msg })) {
		return
	}
	// Every session and token ended, this one included; this browser gets
	// a new session, since it just proved the password.
	if _, err := h.c.Sessions.Create(ctx, w, r, u.ID, sess.AMR); err != nil {
		h.internalError(w, r, "create session", err)
		return
	}
	web.Redirect(w, r, Path+"?done=password")
}

// wrongPassword answers a wrong current password.
const wrongPassword = "account.wrong_password"

// limited runs check through the attempt helper under the failure limit
// of key, and answers a failure itself (see attempted). It reports whether
// check passed.
func (h *Handler) limited(w http.ResponseWriter, r *http.Request, key, wrong string, fail func(status int, msg string), check func() (bool, error)) bool {
	err := h.attempts.Check(r.Context(), accounts.Keys{Account: key}, func(context.Context) (bool, error) { return check() })
	return h.attempted(w, r, err, wrong, fail)
}

// attempted answers err of an attempt: while the key is locked, or when a
// wrong answer locks it, fail gets 429 (with Retry-After set) and a message
// saying when to retry; any other wrong answer gets 400 and the message
// wrong (an ID), in the request's language. It reports whether err is nil.
func (h *Handler) attempted(w http.ResponseWriter, r *http.Request, err error, wrong string, fail func(status int, msg string)) bool {
	if wait, ok := accounts.Locked(err); ok {
		web.SetRetryAfter(w.Header(), wait)
		fail(http.StatusTooManyRequests, web.T(r, "login.locked", "When", web.RetryText(r, wait)))
		return false
	} else if errors.Is(err, accounts.ErrWrong) {
		fail(http.StatusBadRequest, web.T(r, wrong))
		return false
	} else if errors.Is(err, password.ErrBusy) {
		h.busy(w, r)
		return false
	} else if err != nil {
		h.internalError(w, r, "check", err)
		return false
	}
	return true
}

// onAccount renders a failure on the account page, the message tied to the
// field field sets.
func (h *Handler) onAccount(w http.ResponseWriter, r *http.Request, sess *session.Session, u storage.User, field func(*accountPage, string)) func(int, string) {
	return func(status int, msg string) {
		var v accountPage
		field(&v, msg)
		h.renderAccount(w, r, status, sess, u, v)
	}
}

func (h *Handler) revokeApp(w http.ResponseWriter, r *http.Request) {
	_, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	clientID := r.PostFormValue("client_id")
	if clientID == "" {
		h.c.Site.Error(w, r, http.StatusBadRequest, "account.no_app")
		return
	}
	if err := h.c.Accounts.RevokeClientGrant(ctx, actor(r), u.ID, clientID); err != nil {
		h.internalError(w, r, "revoke app", err)
		return
	}
	web.Redirect(w, r, Path+"?done=app")
}

func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := r.PostFormValue("session")
	target, err := h.c.Sessions.Lookup(ctx, id)
	if errors.Is(err, session.ErrNoSession) || (err == nil && target.UserID != u.ID) {
		// Gone already, or not this user's: either way nothing to end here.
		web.Redirect(w, r, Path+"?done=session")
		return
	} else if err != nil {
		h.internalError(w, r, "look up session", err)
		return
	}
	if id == sess.ID {
		h.signOut(w, r)
		return
	}
	if err := h.c.Sessions.Delete(ctx, id); err != nil {
		h.internalError(w, r, "end session", err)
		return
	}
	h.audit(ctx, h.event(r, "session_ended", u.ID))
	web.Redirect(w, r, Path+"?done=session")
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess, err := h.c.Sessions.Get(ctx, r)
	if err := h.c.Sessions.End(ctx, w, r); err != nil {
		h.internalError(w, r, "end session", err)
		return
	}
	if err == nil {
		h.audit(ctx, h.event(r, "logout", sess.UserID))
	}
	web.Redirect(w, r, login.PathLogin+"?done=signout")
}
