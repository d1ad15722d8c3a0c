package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/web"
)

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

// errTooManyRegistrations stops a registration over the limit of its
// client's address.
var errTooManyRegistrations = errors.New("login: too many registrations from one address")

func (h *Handler) postRegister(w http.ResponseWriter, r *http.Request) {
	if h.closed(w, r) {
		return
	}
	ctx := r.Context()
	v := registerPage{
		Email:  accounts.NormalizeEmail(r.PostFormValue("email")),
		Name:   accounts.NormalizeName(r.PostFormValue("name")),
		FlowID: r.PostFormValue("flow"),
	}
	var wait time.Duration
	reg := accounts.Registration{Email: v.Email, Name: v.Name, Password: r.PostFormValue("password")}
	err := h.c.Accounts.Register(ctx, actor(r), reg, func(ctx context.Context) error {
		// Every registration counts against the client's address, as
		// /forgot does: each one mails a stranger's address and costs a
		// password hash.
		var err error
		if wait, err = h.c.IPLimit.Fail(ctx, "register:"+web.ClientNetwork(r)); err != nil {
			return fmt.Errorf("count registration: %w", err)
		} else if wait > 0 {
			return errTooManyRegistrations
		}
		return nil
	})
	if invalid := accounts.Invalid(err); len(invalid) > 0 {
		for _, e := range invalid {
			if e.Field == accounts.FieldEmail {
				v.EmailError = e.Message
			} else {
				v.PassError = e.Message
			}
		}
		h.renderRegister(w, r, http.StatusBadRequest, v)
		return
	} else if errors.Is(err, errTooManyRegistrations) {
		web.SetRetryAfter(w.Header(), wait)
		v.EmailError = "Too many accounts were created from your network. Try again " + web.RetryText(wait) + "."
		h.renderRegister(w, r, http.StatusTooManyRequests, v)
		return
	} else if errors.Is(err, password.ErrBusy) {
		h.busy(w, r)
		return
	} else if err != nil {
		h.internalError(w, r, "register", err)
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

// verifyPage is the data of the verification page.
type verifyPage struct {
	Token string
	Email string
}

func (h *Handler) showVerify(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	u, ok := h.c.Accounts.VerifyUser(r.Context(), token)
	if !ok {
		h.badLink(w, r)
		return
	}
	// A button, not the GET itself, confirms: mail scanners that fetch
	// links must not use the token up.
	h.pages.Render(w, r, http.StatusOK, pageVerify, "Confirm your email", verifyPage{Token: token, Email: u.Email})
}

func (h *Handler) postVerify(w http.ResponseWriter, r *http.Request) {
	err := h.c.Accounts.VerifyEmail(r.Context(), actor(r), r.PostFormValue("token"))
	if errors.Is(err, accounts.ErrStale) {
		h.badLink(w, r)
		return
	} else if err != nil {
		h.internalError(w, r, "verify email", err)
		return
	}
	web.Redirect(w, r, PathLogin+"?done=verified")
}

func (h *Handler) badLink(w http.ResponseWriter, r *http.Request) {
	h.c.Site.Error(w, r, http.StatusBadRequest, "This link is invalid, has expired or was already used.")
}
