package login

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// resetTTL is how long a password reset link works.
const resetTTL = 30 * time.Minute

// forgotPage is the data of the forgotten-password page.
type forgotPage struct {
	Email string
	Error string
}

func (h *Handler) renderForgot(w http.ResponseWriter, r *http.Request, status int, v forgotPage) {
	h.pages.Render(w, r, status, pageForgot, "Reset your password", v)
}

func (h *Handler) showForgot(w http.ResponseWriter, r *http.Request) {
	h.renderForgot(w, r, http.StatusOK, forgotPage{})
}

func (h *Handler) postForgot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	email := normalizeEmail(r.PostFormValue("email"))
	if !validEmail(email) {
		h.renderForgot(w, r, http.StatusBadRequest, forgotPage{Email: email, Error: "Enter an email address like name@example.com."})
		return
	}
	// Every request counts against the client's address, so /forgot cannot
	// be used to flood someone's mailbox from one place.
	if wait, err := h.c.IPLimit.Fail(ctx, "forgot:"+web.ClientIP(r)); err != nil {
		h.internalError(w, r, "count request", err)
		return
	} else if wait > 0 {
		h.tooMany(w, r, wait, func(msg string) {
			h.renderForgot(w, r, http.StatusTooManyRequests, forgotPage{Email: email, Error: msg})
		})
		return
	}
	// Every request also counts against the address: many places together
	// cannot flood one mailbox either. Beyond the limit no mail goes out,
	// but the answer stays the same, so it says nothing about the address.
	wait, err := h.c.AccountLimit.Fail(ctx, "forgot:"+email)
	if err != nil {
		h.internalError(w, r, "count request", err)
		return
	}
	u, err := h.c.Store.GetUserByEmail(ctx, email)
	switch {
	case err == nil && !u.Disabled && wait > 0:
		h.c.Log.WarnContext(ctx, "login: reset mails to one address are limited", "user_id", u.ID)
	case err == nil && !u.Disabled:
		exp := time.Now().Add(resetTTL)
		link := h.c.Issuer + PathReset + "?token=" + url.QueryEscape(signLink(h.c.Box, purposeReset, u.ID, exp, u.PasswordHash))
		if err := h.c.Store.EnqueueMail(ctx, storage.MailJob{To: u.Email, Template: "password_reset", Data: map[string]string{
			"link": link, "expires": "30 minutes",
		}}); err != nil {
			h.internalError(w, r, "enqueue reset mail", err)
			return
		}
		h.audit(ctx, h.event(r, "password_reset_requested", u.ID))
	case err == nil, errors.Is(err, storage.ErrNotFound):
	default:
		h.internalError(w, r, "load user", err)
		return
	}
	h.renderMessage(w, r, http.StatusOK, messagePage{
		Heading: "Check your email",
		Message: "If an account exists for " + email + ", we sent it a link to choose a new password. The link works for 30 minutes.",
	})
}

// resetUser returns the user a reset token was made for, while the
// password it covers is still the current one.
func (h *Handler) resetUser(r *http.Request, token string) (storage.User, bool) {
	id, exp, mac, ok := parseLink(token, time.Now())
	if !ok {
		return storage.User{}, false
	}
	u, err := h.c.Store.GetUser(r.Context(), id)
	if err != nil || u.Disabled {
		return storage.User{}, false
	}
	return u, checkLink(h.c.Box, purposeReset, id, exp, u.PasswordHash, mac)
}

func (h *Handler) showReset(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	u, ok := h.resetUser(r, token)
	if !ok {
		h.badLink(w, r)
		return
	}
	h.pages.Render(w, r, http.StatusOK, pageReset, "Choose a new password", newPasswordPage{Email: u.Email, Token: token})
}

func (h *Handler) postReset(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.PostFormValue("token")
	u, ok := h.resetUser(r, token)
	if !ok {
		h.badLink(w, r)
		return
	}
	v := newPasswordPage{Email: u.Email, Token: token}
	pw := r.PostFormValue("new_password")
	if msg, err := h.acceptable(ctx, u, pw); errors.Is(err, password.ErrBusy) {
		h.busy(w, r)
		return
	} else if err != nil {
		h.internalError(w, r, "check new password", err)
		return
	} else if msg != "" {
		v.Error = msg
		h.pages.Render(w, r, http.StatusBadRequest, pageReset, "Choose a new password", v)
		return
	}
	// The write succeeds only while the password is the one the token
	// covers; reading the link proved the address, so it is verified too.
	_, err := h.setPassword(ctx, r, u, pw, "password_reset", func(cur *storage.User) {
		if !cur.EmailVerified {
			// Whoever set up a second factor on this account before its
			// owner proved the address must not keep it.
			cur.TOTPSecret = nil
		}
		cur.EmailVerified = true
	})
	if errors.Is(err, password.ErrBusy) {
		h.busy(w, r)
		return
	} else if errors.Is(err, errUsed) {
		h.badLink(w, r)
		return
	} else if err != nil {
		h.internalError(w, r, "reset password", err)
		return
	}
	web.Redirect(w, r, PathLogin+"?done=reset")
}
