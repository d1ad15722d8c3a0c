package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// registerPage is the data of the registration page.
type registerPage struct {
	Email, Name string
	Trip        trip
	EmailError  string
	PassError   string
}

func (h *Handler) renderRegister(w http.ResponseWriter, r *http.Request, status int, v registerPage) {
	h.pages.Render(w, r, status, pageRegister, "register.title", v)
}

func (h *Handler) closed(w http.ResponseWriter, r *http.Request) bool {
	if h.c.Registration {
		return false
	}
	h.c.Site.Problem(w, r, http.StatusNotFound, web.Problem{
		Heading: "register.closed", Message: "register.closed_text",
		LinkText: "message.sign_in", LinkHref: PathLogin,
	})
	return true
}

func (h *Handler) showRegister(w http.ResponseWriter, r *http.Request) {
	if h.closed(w, r) {
		return
	}
	q := r.URL.Query()
	h.renderRegister(w, r, http.StatusOK, registerPage{Trip: h.trip(q.Get("flow"), q.Get("return_to"))})
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
		Email: accounts.NormalizeEmail(r.PostFormValue("email")),
		Name:  accounts.NormalizeName(r.PostFormValue("name")),
		Trip:  h.trip(r.PostFormValue("flow"), r.PostFormValue("return_to")),
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
				v.EmailError = e.In(web.Lang(r))
			} else {
				v.PassError = e.In(web.Lang(r))
			}
		}
		h.renderRegister(w, r, http.StatusBadRequest, v)
		return
	} else if errors.Is(err, errTooManyRegistrations) {
		web.SetRetryAfter(w.Header(), wait)
		v.EmailError = web.T(r, "register.too_many", "When", web.RetryText(r, wait))
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
	h.leave(w, v.Trip.FlowID, v.Trip.ReturnTo)
	h.registered(w, r, http.StatusOK, v.Email, v.Trip, web.T(r, "register.sent", "Email", v.Email))
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
		h.badVerifyLink(w, r)
		return
	}
	// A button, not the GET itself, confirms: mail scanners that fetch
	// links must not use the token up.
	h.pages.Render(w, r, http.StatusOK, pageVerify, "verify.title", verifyPage{Token: token, Email: u.Email})
}

func (h *Handler) postVerify(w http.ResponseWriter, r *http.Request) {
	err := h.c.Accounts.VerifyEmail(r.Context(), actor(r), r.PostFormValue("token"))
	if errors.Is(err, accounts.ErrStale) {
		h.badVerifyLink(w, r)
		return
	} else if err != nil {
		h.internalError(w, r, "verify email", err)
		return
	}
	web.Redirect(w, r, h.backFrom(w, r, "verified"))
}

// badLink answers an email link that is unknown, expired or used, and
// offers where to get a new one.
func (h *Handler) badLink(w http.ResponseWriter, r *http.Request, again, againText string) {
	p := web.ProblemExpiredLink
	p.LinkHref, p.LinkText = again, againText
	h.c.Site.Problem(w, r, http.StatusBadRequest, p)
}

// Where a new link is got: a reset link from the forgotten-password page,
// a confirmation link by signing in (which offers to send one).
func (h *Handler) badResetLink(w http.ResponseWriter, r *http.Request) {
	h.badLink(w, r, PathForgot, "forgot.ask_again")
}

func (h *Handler) badVerifyLink(w http.ResponseWriter, r *http.Request) {
	h.badLink(w, r, PathLogin, "verify.sign_in_for_link")
}

// PathRegisterResend takes the "send again" button of the page that
// follows a registration.
const PathRegisterResend = "/register/resend"

// registration is what the "send again" button after a registration
// carries, sealed: the address and the sign-in to go back to. It says
// nothing about whether the address had an account already, and neither
// does the answer to it.
type registration struct {
	Email    string    `json:"m"`
	FlowID   string    `json:"f,omitempty"`
	ReturnTo string    `json:"r,omitempty"`
	Expires  time.Time `json:"e"`
}

var registrationAD = []byte("latch register-resend v1")

// registered renders the "check your email" page that follows a
// registration of email, with message (in the request's language).
func (h *Handler) registered(w http.ResponseWriter, r *http.Request, status int, email string, t trip, message string) {
	token := h.c.Box.SealString(registration{Email: email, FlowID: t.FlowID, ReturnTo: t.ReturnTo, Expires: time.Now().Add(resendTTL)}, registrationAD)
	h.renderMessage(w, r, status, messagePage{
		Heading: "message.check_email", Message: message,
		Again:    &againForm{Action: PathRegisterResend, Fields: map[string]string{"token": token}},
		LinkText: "forgot.back", LinkHref: t.Back,
	})
}

func (h *Handler) postRegisterResend(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var v registration
	if !h.c.Box.OpenString(r.PostFormValue("token"), registrationAD, &v) || time.Now().After(v.Expires) || !accounts.ValidEmail(v.Email) {
		h.c.Site.Problem(w, r, http.StatusBadRequest, web.Problem{
			Heading: "unverified.expired", Message: "unverified.expired_text",
			LinkText: "message.sign_in", LinkHref: PathLogin,
		})
		return
	}
	t := h.trip(v.FlowID, v.ReturnTo)
	// Every request counts, per address and per client address, as the
	// unverified page's button does: each one may mail someone.
	if wait, err := h.attempts.Fail(ctx, accounts.Keys{Account: "verify-resend:" + v.Email, IP: "verify-resend:" + web.ClientIP(r)}); err != nil {
		h.internalError(w, r, "count resend", err)
		return
	} else if wait > 0 {
		web.SetRetryAfter(w.Header(), wait)
		h.registered(w, r, http.StatusTooManyRequests, v.Email, t, web.T(r, "unverified.too_many", "When", web.RetryText(r, wait)))
		return
	}
	// As at registration, the answer comes before the lookup, so it takes
	// as long whether the address has an account, a confirmed one, or none.
	a := actor(r)
	h.c.Accounts.Later(ctx, "resend verification", func(ctx context.Context) error {
		u, err := h.c.Store.GetUserByEmail(ctx, v.Email)
		switch {
		case errors.Is(err, storage.ErrNotFound) || (err == nil && (u.Disabled || u.EmailVerified)):
			return nil
		case err != nil:
			return fmt.Errorf("load user: %w", err)
		}
		return h.c.Accounts.ResendVerification(ctx, a, u)
	})
	h.leave(w, t.FlowID, t.ReturnTo)
	h.registered(w, r, http.StatusOK, v.Email, t, web.T(r, "register.resent", "Email", v.Email))
}
