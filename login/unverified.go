package login

import (
	"net/http"
	"strings"
	"time"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// An account whose address is unverified does not get a session: whoever
// registered someone else's address must not be able to use the account.
// After the right password the user gets the unverified page instead, with
// a button that mails a new verification link. The page is reached only
// through a right password, so it tells nobody else which addresses have
// accounts; its button carries a resend token (a link token bound to the
// password hash) rather than the address, so it works only for the account
// whose password was given.

// purposeResend separates resend tokens from the other link tokens.
const purposeResend = "latch verify-resend v1"

// resendTTL is how long the button of one unverified page works.
const resendTTL = 30 * time.Minute

// PathResendVerification takes the button of the unverified page.
const PathResendVerification = "/verify/resend"

// unverifiedPage is the data of the unverified page.
type unverifiedPage struct {
	Email  string
	Token  string // the resend token
	SignIn string // the sign-in page to come back to, with the flow
	Notice string // set once a new link was sent
	Error  string // the resend was refused
}

// unverified answers a right password for u, whose address is unverified:
// no session, no pending sign-in, the flow stays where it is.
func (h *Handler) unverified(w http.ResponseWriter, r *http.Request, u storage.User, flowID, ret string) {
	e := h.event(r, "login_refused", u.ID)
	e.Detail = map[string]string{"reason": "email_unverified"}
	h.audit(r.Context(), e)
	h.leave(w, flowID, ret)
	h.renderUnverified(w, r, http.StatusForbidden, u, h.loginURL(flowID, ret), unverifiedPage{})
}

// renderUnverified renders the page for u with a fresh resend token. 403
// says what happened: the password was right, yet signing in is refused
// until the address is confirmed, and asking again will not change that.
func (h *Handler) renderUnverified(w http.ResponseWriter, r *http.Request, status int, u storage.User, signIn string, v unverifiedPage) {
	v.Email, v.SignIn = u.Email, signIn
	v.Token = accounts.SignLink(h.c.Box, purposeResend, u.ID+"\x00"+signIn, time.Now().Add(resendTTL), u.PasswordHash)
	h.pages.Render(w, r, status, pageUnverified, "unverified.title", v)
}

// resendUser returns the user a resend token was made for and the sign-in
// page it carries, while the user is enabled and has the password the token
// was made with. The caller tells a user verified meanwhile apart.
func (h *Handler) resendUser(r *http.Request, token string) (storage.User, string, bool) {
	sub, exp, mac, ok := accounts.ParseLink(token, time.Now())
	if !ok {
		return storage.User{}, "", false
	}
	id, signIn, found := strings.Cut(sub, "\x00")
	if !found || !web.LocalPath(signIn) {
		return storage.User{}, "", false
	}
	u, err := h.c.Store.GetUser(r.Context(), id)
	if err != nil || u.Disabled || !accounts.CheckLink(h.c.Box, purposeResend, sub, exp, u.PasswordHash, mac) {
		return storage.User{}, "", false
	}
	return u, signIn, true
}

func (h *Handler) postResendVerification(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, signIn, ok := h.resendUser(r, r.PostFormValue("token"))
	if !ok {
		h.c.Site.Problem(w, r, http.StatusBadRequest, web.Problem{
			Heading: "unverified.expired", Message: "unverified.expired_text",
			LinkText: "message.sign_in", LinkHref: PathLogin,
		})
		return
	}
	if u.EmailVerified {
		h.renderMessage(w, r, http.StatusOK, messagePage{
			Heading: "unverified.confirmed", Message: web.T(r, "unverified.confirmed_text"),
			LinkText: "message.sign_in", LinkHref: signIn,
		})
		return
	}
	// Every request counts, per account and per client address, as /forgot
	// does: each one mails someone.
	if wait, err := h.attempts.Fail(ctx, accounts.Keys{Account: "verify-resend:" + u.ID, IP: "verify-resend:" + web.ClientIP(r)}); err != nil {
		h.internalError(w, r, "count resend", err)
		return
	} else if wait > 0 {
		web.SetRetryAfter(w.Header(), wait)
		h.renderUnverified(w, r, http.StatusTooManyRequests, u, signIn, unverifiedPage{
			Error: web.T(r, "unverified.too_many", "When", web.RetryText(r, wait)),
		})
		return
	}
	if err := h.c.Accounts.ResendVerification(ctx, actor(r), u); err != nil {
		h.internalError(w, r, "enqueue verification mail", err)
		return
	}
	h.renderUnverified(w, r, http.StatusOK, u, signIn, unverifiedPage{
		Notice: web.T(r, "unverified.sent", "Email", u.Email),
	})
}
