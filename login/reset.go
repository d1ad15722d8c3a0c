package login

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// forgotPage is the data of the forgotten-password page.
type forgotPage struct {
	Email string
	Error string
	Trip  trip
}

func (h *Handler) renderForgot(w http.ResponseWriter, r *http.Request, status int, v forgotPage) {
	h.pages.Render(w, r, status, pageForgot, "forgot.title", v)
}

func (h *Handler) showForgot(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	h.renderForgot(w, r, http.StatusOK, forgotPage{Trip: h.trip(q.Get("flow"), q.Get("return_to"))})
}

func (h *Handler) postForgot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	email := accounts.NormalizeEmail(r.PostFormValue("email"))
	t := h.trip(r.PostFormValue("flow"), r.PostFormValue("return_to"))
	if !accounts.ValidEmail(email) {
		h.renderForgot(w, r, http.StatusBadRequest, forgotPage{Email: email, Error: web.T(r, accounts.EmailMessageID), Trip: t})
		return
	}
	// Every request counts against the client's address, so /forgot cannot
	// be used to flood someone's mailbox from one place.
	if wait, err := h.c.IPLimit.Fail(ctx, "forgot:"+web.ClientNetwork(r)); err != nil {
		h.internalError(w, r, "count request", err)
		return
	} else if wait > 0 {
		h.tooMany(w, r, wait, func(msg string) {
			h.renderForgot(w, r, http.StatusTooManyRequests, forgotPage{Email: email, Error: msg, Trip: t})
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
	// Whether the address has an account shows only after the answer: a
	// known one costs a lookup, a mail and an audit row, an unknown one a
	// lookup, and the answer must not take longer for either.
	a := actor(r)
	h.c.Accounts.Later(ctx, "password reset", func(ctx context.Context) error {
		u, err := h.c.Store.GetUserByEmail(ctx, email)
		switch {
		case errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled):
			return nil
		case err != nil:
			return fmt.Errorf("load user: %w", err)
		case wait > 0:
			h.c.Log.WarnContext(ctx, "login: reset mails to one address are limited", "user_id", u.ID)
			return nil
		}
		return h.c.Accounts.SendPasswordReset(ctx, a, u)
	})
	h.leave(w, t.FlowID, t.ReturnTo)
	again := map[string]string{"email": email}
	maps.Copy(again, t.Fields())
	sent := "forgot.sent"
	if r.PostFormValue("again") != "" {
		sent = "forgot.sent_again"
	}
	h.renderMessage(w, r, http.StatusOK, messagePage{
		Heading:  "message.check_email",
		Message:  web.T(r, sent, "Email", email),
		Again:    &againForm{Action: PathForgot, Fields: again},
		LinkText: "forgot.back", LinkHref: t.Back,
	})
}

func (h *Handler) showReset(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	u, ok := h.c.Accounts.ResetUser(r.Context(), token)
	if !ok {
		h.badResetLink(w, r)
		return
	}
	h.pages.Render(w, r, http.StatusOK, pageReset, "new_password.title", newPasswordPage{Email: u.Email, Token: token})
}

func (h *Handler) postReset(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("token")
	u, err := h.c.Accounts.ResetPassword(r.Context(), actor(r), token, r.PostFormValue("new_password"))
	if invalid := accounts.Invalid(err); len(invalid) > 0 {
		v := newPasswordPage{Email: u.Email, Token: token, Error: invalid[0].In(web.Lang(r))}
		h.pages.Render(w, r, http.StatusBadRequest, pageReset, "new_password.title", v)
		return
	} else if errors.Is(err, password.ErrBusy) {
		h.busy(w, r)
		return
	} else if errors.Is(err, accounts.ErrStale) {
		h.badResetLink(w, r)
		return
	} else if err != nil {
		h.internalError(w, r, "reset password", err)
		return
	}
	now := time.Now()
	ps, err := h.c.Store.ListPasskeys(r.Context(), u.ID)
	if err != nil {
		h.internalError(w, r, "list passkeys", err)
		return
	}
	rec := recovery{UserID: u.ID, Expires: now.Add(recoveryTTL)}
	var v resetFactorPage
	if accounts.RecentTOTP(u, now) {
		rec.EnabledAt, v.EnabledAt = u.TOTPEnabledAt, u.TOTPEnabledAt
	}
	for _, p := range accounts.RecentPasskeys(ps, now) {
		rec.Passkeys = append(rec.Passkeys, p.ID)
		v.Passkeys = append(v.Passkeys, recentPasskey{Name: p.Name, AddedAt: p.CreatedAt})
	}
	if rec.EnabledAt.IsZero() && len(rec.Passkeys) == 0 {
		web.Redirect(w, r, h.backFrom(w, r, "reset"))
		return
	}
	v.Recovery = h.sealRecovery(rec)
	h.pages.Render(w, r, http.StatusOK, pageResetFactor, "reset_factors.title", v)
}

// recoveryTTL bounds how long the offer to remove a recent second factor
// stands after a password reset.
const recoveryTTL = 15 * time.Minute

// recovery is the offer made after a password reset to remove the second
// factor turned on at EnabledAt (accounts.FactorRecoveryWindow). It
// travels in a hidden field, sealed with the system secret: the reset link
// that proved the mailbox is spent by then.
type recovery struct {
	UserID    string    `json:"u"`
	EnabledAt time.Time `json:"t"` // of the TOTP offered; zero: none
	Passkeys  [][]byte  `json:"p,omitempty"`
	Expires   time.Time `json:"e"`
}

var recoveryAD = []byte("latch reset-factors v1")

func (h *Handler) sealRecovery(v recovery) string { return h.c.Box.SealString(v, recoveryAD) }

func (h *Handler) openRecovery(s string) (recovery, bool) {
	var v recovery
	ok := h.c.Box.OpenString(s, recoveryAD, &v) && time.Now().Before(v.Expires)
	return v, ok
}

// resetFactorPage is the data of the page that offers, after a password
// reset, to remove a second factor added recently.
type resetFactorPage struct {
	EnabledAt time.Time // of the TOTP offered; zero: none
	Passkeys  []recentPasskey
	Recovery  string
}

type recentPasskey struct {
	Name    string
	AddedAt time.Time
}

func (h *Handler) postResetFactor(w http.ResponseWriter, r *http.Request) {
	v, ok := h.openRecovery(r.PostFormValue("recovery"))
	if !ok {
		h.badResetLink(w, r)
		return
	}
	removed := false
	if !v.EnabledAt.IsZero() {
		var err error
		if removed, err = h.c.Accounts.RemoveRecentTOTP(r.Context(), actor(r), v.UserID, v.EnabledAt); err != nil {
			h.internalError(w, r, "remove second factor", err)
			return
		}
	}
	n, err := h.c.Accounts.RemoveRecentPasskeys(r.Context(), actor(r), v.UserID, v.Passkeys)
	if err != nil {
		h.internalError(w, r, "remove passkeys", err)
		return
	}
	if !removed && n == 0 {
		web.Redirect(w, r, h.backFrom(w, r, "reset"))
		return
	}
	web.Redirect(w, r, h.backFrom(w, r, "reset_factor"))
}
