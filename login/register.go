package login

import (
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// verifyTTL is how long an email verification link works.
const verifyTTL = 24 * time.Hour

// registerPage is the data of the registration page.
type registerPage struct {
	Email, Name string
	FlowID      string
	EmailError  string
	PassError   string
}

func (h *Handler) renderRegister(w http.ResponseWriter, r *http.Request, status int, v registerPage) {
	h.pages.Render(w, r, status, pageRegister, "Create an account", v)
}

func (h *Handler) closed(w http.ResponseWriter, r *http.Request) bool {
	if h.c.Registration {
		return false
	}
	h.c.Site.Error(w, r, http.StatusNotFound, "Registration is closed. Ask an administrator for an account.")
	return true
}

func (h *Handler) showRegister(w http.ResponseWriter, r *http.Request) {
	if h.closed(w, r) {
		return
	}
	h.renderRegister(w, r, http.StatusOK, registerPage{FlowID: r.URL.Query().Get("flow")})
}

// validEmail accepts a bare address of sane length.
func validEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " <>\r\n") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".")
}

// newEmail accepts the address of a new account: a valid one, in printable
// ASCII only. Look-alike letters (fullwidth, Cyrillic), combining marks and
// invisible characters would let one mailbox, or what reads as one, get a
// second account: mail servers that apply IDNA mapping deliver
// "ada@ｅｘａｍｐｌｅ.com" to ada@example.com.
func newEmail(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return validEmail(s)
}

func (h *Handler) postRegister(w http.ResponseWriter, r *http.Request) {
	if h.closed(w, r) {
		return
	}
	ctx := r.Context()
	v := registerPage{
		Email:  normalizeEmail(r.PostFormValue("email")),
		Name:   web.Clip(strings.TrimSpace(r.PostFormValue("name")), 200),
		FlowID: r.PostFormValue("flow"),
	}
	pw := r.PostFormValue("password")
	if !newEmail(v.Email) {
		v.EmailError = "Enter an email address like name@example.com."
	}
	if err := h.c.Checker.Check(ctx, pw); err != nil {
		var perr *password.Error
		if !errors.As(err, &perr) {
			h.internalError(w, r, "check password", err)
			return
		}
		v.PassError = perr.Message
	}
	if v.EmailError != "" || v.PassError != "" {
		h.renderRegister(w, r, http.StatusBadRequest, v)
		return
	}
	// Every registration counts against the client's address, as /forgot
	// does: each one mails a stranger's address and costs a password hash.
	if wait, err := h.c.IPLimit.Fail(ctx, "register:"+web.ClientIP(r)); err != nil {
		h.internalError(w, r, "count registration", err)
		return
	} else if wait > 0 {
		web.SetRetryAfter(w.Header(), wait)
		v.EmailError = "Too many accounts were created from your network. Try again " + web.RetryText(wait) + "."
		h.renderRegister(w, r, http.StatusTooManyRequests, v)
		return
	}
	phc, err := h.c.Hasher.Hash(ctx, pw)
	if errors.Is(err, password.ErrBusy) {
		h.busy(w, r)
		return
	} else if err != nil {
		h.internalError(w, r, "hash password", err)
		return
	}
	u := storage.User{Email: v.Email, Name: v.Name, Role: storage.RoleUser, PasswordHash: phc}
	fx := storage.Effects{
		Audit: []storage.AuditEvent{h.event(r, "user_registered", "")},
		Mail:  []storage.MailJob{h.verifyMail(v.Email)},
	}
	if _, err := h.c.Store.CreateUser(ctx, u, fx); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		h.internalError(w, r, "create user", err)
		return
	}
	// A taken email gets the same answer, so registration does not tell
	// who has an account.
	h.renderMessage(w, r, http.StatusOK, messagePage{
		Heading:  "Check your email",
		Message:  "We sent a confirmation link to " + v.Email + ". Open it to confirm your address before you sign in; the link works for 24 hours.",
		LinkText: "Sign in",
		LinkHref: h.loginURL(v.FlowID, ""),
	})
}

// verifyBound is the state a verification token covers: the address is
// still unverified. Confirming it makes the token useless.
const verifyBound = "unverified"

// verifyPage is the data of the verification page.
type verifyPage struct {
	Token string
	Email string
}

func (h *Handler) showVerify(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	u, ok := h.verifyToken(r, token)
	if !ok {
		h.badLink(w, r)
		return
	}
	// A button, not the GET itself, confirms: mail scanners that fetch
	// links must not use the token up.
	h.pages.Render(w, r, http.StatusOK, pageVerify, "Confirm your email", verifyPage{Token: token, Email: u.Email})
}

func (h *Handler) postVerify(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.PostFormValue("token")
	u, ok := h.verifyToken(r, token)
	if !ok {
		h.badLink(w, r)
		return
	}
	_, err := h.c.Store.UpdateUser(ctx, u.ID, storage.Effects{Audit: []storage.AuditEvent{h.event(r, "email_verified", u.ID)}}, func(cur *storage.User) error {
		if cur.EmailVerified || normalizeEmail(cur.Email) != normalizeEmail(u.Email) {
			return errUsed
		}
		cur.EmailVerified = true
		return nil
	})
	if errors.Is(err, errUsed) {
		h.badLink(w, r)
		return
	} else if err != nil {
		h.internalError(w, r, "verify email", err)
		return
	}
	web.Redirect(w, r, PathLogin+"?done=verified")
}

// verifyToken returns the unverified user the token was made for.
func (h *Handler) verifyToken(r *http.Request, token string) (storage.User, bool) {
	email, exp, mac, ok := parseLink(token, time.Now())
	if !ok {
		return storage.User{}, false
	}
	u, err := h.c.Store.GetUserByEmail(r.Context(), email)
	if err != nil || u.EmailVerified {
		return storage.User{}, false
	}
	return u, checkLink(h.c.Box, purposeVerify, email, exp, verifyBound, mac)
}

func (h *Handler) badLink(w http.ResponseWriter, r *http.Request) {
	h.c.Site.Error(w, r, http.StatusBadRequest, "This link is invalid, has expired or was already used.")
}

// AccountEmail normalizes the address of a new account (trimmed, lower
// case) and reports whether it is acceptable, by the rules /register
// applies; the CLI creates accounts by the same rules.
func AccountEmail(s string) (string, bool) {
	s = normalizeEmail(s)
	return s, newEmail(s)
}
