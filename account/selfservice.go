package account

import (
	"errors"
	"net/http"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/login"
	"github.com/latch-idp/latch/web"
)

// Paths of the account's own changes.
const (
	PathName         = "/account/name"
	PathEmail        = "/account/email"
	PathEmailConfirm = "/account/email/confirm"
	PathDelete       = "/account/delete"
)

func (h *Handler) changeName(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	_, err := h.c.Accounts.SetName(r.Context(), actor(r), u.ID, r.PostFormValue("name"))
	if invalid := accounts.Invalid(err); len(invalid) > 0 {
		h.renderAccount(w, r, http.StatusBadRequest, sess, u, accountPage{NameError: invalid[0].In(web.Lang(r))})
		return
	} else if err != nil {
		h.internalError(w, r, "change name", err)
		return
	}
	web.Redirect(w, r, Path+"?done=name")
}

// requestEmailChange mails a confirmation link to the new address once the
// current password is right; the address changes when the link is opened.
func (h *Handler) requestEmailChange(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	to := accounts.NormalizeEmail(r.PostFormValue("new_email"))
	err := h.c.Accounts.RequestEmailChange(r.Context(), actor(r), accounts.EmailChange{
		User: u, Current: r.PostFormValue("current_password"), New: to, Attempts: h.attempts,
	})
	if invalid := accounts.Invalid(err); len(invalid) > 0 {
		h.renderAccount(w, r, http.StatusBadRequest, sess, u, accountPage{NewEmail: to, EmailError: invalid[0].In(web.Lang(r))})
		return
	}
	if !h.attempted(w, r, err, wrongPassword,
		h.onAccount(w, r, sess, u, func(v *accountPage, msg string) { v.NewEmail, v.EmailPasswordError = to, msg })) {
		return
	}
	h.renderAccount(w, r, http.StatusOK, sess, u, accountPage{Notice: web.T(r, "account.email_sent", "Email", to)})
}

// emailConfirmPage asks to confirm the change a link names: opening the
// link alone (a mail scanner prefetching it) changes nothing.
type emailConfirmPage struct {
	Token, From, To string
}

func (h *Handler) showEmailConfirm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	u, to, ok := h.c.Accounts.EmailChangeOf(r.Context(), token)
	if !ok {
		h.emailLinkExpired(w, r)
		return
	}
	h.pages.Render(w, r, http.StatusOK, pageEmailConfirm, "email_confirm.title", emailConfirmPage{Token: token, From: u.Email, To: to})
}

// emailLinkExpired answers a confirmation link for a new address that is
// unknown, expired or used, and sends the user to ask for a new one.
func (h *Handler) emailLinkExpired(w http.ResponseWriter, r *http.Request) {
	p := web.ProblemExpiredLink
	p.LinkHref, p.LinkText = Path, "email_confirm.ask_again"
	h.c.Site.Problem(w, r, http.StatusBadRequest, p)
}

func (h *Handler) confirmEmail(w http.ResponseWriter, r *http.Request) {
	u, err := h.c.Accounts.ConfirmEmailChange(r.Context(), actor(r), r.PostFormValue("token"))
	switch {
	case errors.Is(err, accounts.ErrStale):
		h.emailLinkExpired(w, r)
	case errors.Is(err, accounts.ErrEmailTaken):
		h.c.Site.Error(w, r, http.StatusConflict, "email_confirm.taken")
	case err != nil:
		h.internalError(w, r, "change email", err)
	default:
		h.pages.Render(w, r, http.StatusOK, pageEmailConfirm, "email_confirm.done_title", emailConfirmPage{To: u.Email})
	}
}

// deleteAccount deletes the signed-in user's account once the current
// password is right, and signs the browser out.
func (h *Handler) deleteAccount(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	err := h.c.Accounts.DeleteAccount(ctx, actor(r), u, r.PostFormValue("current_password"), h.attempts)
	if errors.Is(err, accounts.ErrLastAdmin) {
		h.renderAccount(w, r, http.StatusConflict, sess, u, accountPage{DeleteError: web.T(r, "account.only_admin")})
		return
	}
	if !h.attempted(w, r, err, wrongPassword,
		h.onAccount(w, r, sess, u, func(v *accountPage, msg string) { v.DeleteError = msg })) {
		return
	}
	if err := h.c.Sessions.End(ctx, w, r); err != nil {
		h.c.Log.WarnContext(ctx, "account: end the deleted account's session", "err", err)
	}
	web.Redirect(w, r, login.PathLogin+"?done=deleted")
}
