package login

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/telemetry"
	"github.com/latch-idp/latch/web"
)

// failedMessage is the one answer to a wrong email, a wrong password and a
// disabled account alike.
const failedMessage = "login.failed"

// mustChangeMessage says why a password must change: an administrator
// asked for it.
const mustChangeMessage = "login.must_change"

// loginPage is the data of the sign-in page.
type loginPage struct {
	Email        string
	FlowID       string
	ReturnTo     string
	ClientName   string
	Error        string // the failure, shown above the form and tied to the password field
	Notice       string
	Registration bool
	// PasskeyRequired: the app asks for a passkey (a password alone will
	// not do).
	PasskeyRequired bool
	Passkeys        bool // passkeys are on: the page offers one
	Trip            trip // for the side trips the page links to
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginPage) {
	v.Registration = h.c.Registration
	v.Trip = h.trip(v.FlowID, v.ReturnTo)
	v.Passkeys = h.c.Passkeys.Off() == ""
	if !v.Passkeys {
		h.pages.Render(w, r, status, pageLogin, "login.title", v)
		return
	}
	h.pages.RenderScript(w, r, status, pageLogin, "login.title", web.ScriptPasskey, v)
}

// returnTo is the local path to go to after a sign-in without a flow.
func (h *Handler) returnTo(s string) string {
	if web.LocalPath(s) {
		return s
	}
	return h.c.Home
}

// notices are the fixed messages other pages may ask the login page to
// show, by the value of done=.
var notices = map[string]string{
	"reset":        "login.notice.reset",
	"reset_factor": "login.notice.reset_factor",
	"verified":     "login.notice.verified",
	"signout":      "login.notice.signout",
	"deleted":      "login.notice.deleted",
}

// notice is the notice done= asks for, in r's language; "" for none.
func notice(r *http.Request) string {
	if id, ok := notices[r.URL.Query().Get("done")]; ok {
		return web.T(r, id)
	}
	return ""
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	v := loginPage{FlowID: q.Get("flow"), ReturnTo: h.returnTo(q.Get("return_to")), Notice: notice(r)}
	var f *flow.Flow
	if v.FlowID != "" {
		var err error
		if f, err = h.c.Flows.Get(ctx, v.FlowID, flow.StageLogin); errors.Is(err, flow.ErrNotFound) {
			h.c.Site.Problem(w, r, http.StatusBadRequest, web.ProblemExpiredSignIn)
			return
		} else if err != nil {
			h.internalError(w, r, "load flow", err)
			return
		}
		v.Email, v.ClientName, v.PasskeyRequired = f.LoginHint, f.ClientName, f.ACR != ""
	}
	// A live session signs in without a password, unless the app asks for
	// a fresh one, or a page of latch's own does (reauth=1: the admin
	// console, for a fresh second factor).
	sess, err := h.c.Sessions.Get(ctx, r)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		h.internalError(w, r, "load session", err)
		return
	}
	if err == nil && q.Get("reauth") != "1" {
		fresh := f == nil || (!f.ForceLogin && (f.RequireFresh.IsZero() || !sess.AuthTime.Before(f.RequireFresh)) && passkey.Satisfies(f.ACR, sess.AMR))
		if fresh {
			if u, err := h.c.Store.GetUser(ctx, sess.UserID); err == nil && !u.Disabled && u.EmailVerified {
				if f == nil {
					web.Redirect(w, r, v.ReturnTo)
					return
				}
				h.resume(w, r, f, sess)
				return
			}
		}
	}
	h.renderLogin(w, r, http.StatusOK, v)
}

func (h *Handler) postLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	email := accounts.NormalizeEmail(r.PostFormValue("email"))
	pw := r.PostFormValue("password")
	v := loginPage{Email: email, FlowID: r.PostFormValue("flow"), ReturnTo: h.returnTo(r.PostFormValue("return_to"))}
	acr := ""
	if v.FlowID != "" {
		f, err := h.c.Flows.Get(ctx, v.FlowID, flow.StageLogin)
		if errors.Is(err, flow.ErrNotFound) {
			h.c.Site.Problem(w, r, http.StatusBadRequest, web.ProblemExpiredSignIn)
			return
		} else if err != nil {
			h.internalError(w, r, "load flow", err)
			return
		}
		v.ClientName, v.PasskeyRequired, acr = f.ClientName, f.ACR != "", f.ACR
	}
	if email == "" || pw == "" {
		v.Error = web.T(r, "login.missing_fields")
		h.renderLogin(w, r, http.StatusBadRequest, v)
		return
	}

	var u storage.User
	var reason string
	err := h.attempts.Check(ctx, accounts.Keys{Account: "pw:" + email, IP: "ip:" + web.ClientNetwork(r)}, func(ctx context.Context) (bool, error) {
		var err error
		if u, reason, err = h.c.Accounts.Authenticate(ctx, email, pw); err != nil || reason == "" {
			return err == nil, err
		}
		e := h.event(r, "login_failed", u.ID)
		e.Detail = map[string]string{"reason": reason}
		h.audit(ctx, e)
		return false, nil
	})
	h.countStep(telemetry.StepPassword, err, reason)
	if wait, ok := accounts.Locked(err); ok {
		h.tooMany(w, r, wait, func(msg string) {
			v.Error = msg
			h.renderLogin(w, r, http.StatusTooManyRequests, v)
		})
		return
	} else if errors.Is(err, accounts.ErrWrong) {
		v.Error = web.T(r, failedMessage)
		h.renderLogin(w, r, http.StatusUnauthorized, v)
		return
	} else if errors.Is(err, password.ErrBusy) {
		h.busy(w, r)
		return
	} else if err != nil {
		h.internalError(w, r, "check password", err)
		return
	}

	// Before any further step: an unverified address gets no session.
	if !u.EmailVerified {
		h.unverified(w, r, u, v.FlowID, v.ReturnTo)
		return
	}
	passkeys, err := h.listPasskeys(ctx, u.ID)
	if err != nil {
		h.internalError(w, r, "list passkeys", err)
		return
	}
	p := &pending{UserID: u.ID, FlowID: v.FlowID, ReturnTo: v.ReturnTo, AMR: []string{"pwd"}, ACR: acr, Password: h.passwordBinding(u.PasswordHash)}
	p.NeedCode = u.TOTPEnabled() || len(passkeys) > 0 || acr != ""
	switch h.c.Accounts.NewPasswordNeeded(ctx, u, pw) {
	case accounts.PasswordMustChange:
		p.MustChange = mustChangeMessage
	case accounts.PasswordRefused:
		p.MustChange = "login.password_refused"
	}
	h.next(w, r, p, true)
}

// next sends the sign-in to its next step: the code, a new password, or
// completion. fresh is true when p is not yet stored.
func (h *Handler) next(w http.ResponseWriter, r *http.Request, p *pending, fresh bool) {
	ctx := r.Context()
	if !p.NeedCode && p.MustChange == "" {
		if !fresh {
			// Taking it makes the completion single use.
			if _, err := h.takePending(ctx, w, r); errors.Is(err, errNoPending) {
				h.pendingExpired(w, r)
				return
			} else if err != nil {
				h.internalError(w, r, "take pending sign-in", err)
				return
			}
		}
		h.complete(w, r, p)
		return
	}
	var err error
	if fresh {
		err = h.startPending(ctx, w, p)
	} else {
		err = h.updatePending(ctx, r, p)
	}
	if errors.Is(err, errNoPending) {
		h.pendingExpired(w, r)
		return
	} else if err != nil {
		h.internalError(w, r, "store pending sign-in", err)
		return
	}
	if p.NeedCode {
		web.Redirect(w, r, PathCode)
	} else {
		web.Redirect(w, r, PathNewPassword)
	}
}

func (h *Handler) pendingExpired(w http.ResponseWriter, r *http.Request) {
	h.c.Site.Problem(w, r, http.StatusBadRequest, web.Problem{
		Heading: "problem.expired_sign_in", Message: "login.pending_expired",
		LinkText: "message.sign_in", LinkHref: PathLogin,
	})
}

// complete starts the browser session and hands the result on: to
// provider through the flow, or to the local return path.
func (h *Handler) complete(w http.ResponseWriter, r *http.Request, p *pending) {
	ctx := r.Context()
	var f *flow.Flow
	if p.FlowID != "" {
		var err error
		if f, err = h.c.Flows.Get(ctx, p.FlowID, flow.StageLogin); errors.Is(err, flow.ErrNotFound) {
			h.c.Site.Problem(w, r, http.StatusBadRequest, web.ProblemExpiredSignIn)
			return
		} else if err != nil {
			h.internalError(w, r, "load flow", err)
			return
		}
	}
	in := accounts.SignIn{UserID: p.UserID, AMR: p.AMR, Current: func(u storage.User) bool { return h.goesOn(p, u) }}
	if f != nil {
		in.ClientID = f.ClientID
	}
	u, err := h.c.Accounts.CompleteSignIn(ctx, actor(r), in)
	var unverified *accounts.UnverifiedError
	if errors.Is(err, accounts.ErrDisabled) || errors.Is(err, accounts.ErrNotFound) {
		h.renderLogin(w, r, http.StatusUnauthorized, loginPage{FlowID: p.FlowID, ReturnTo: p.ReturnTo, Error: web.T(r, failedMessage)})
		return
	} else if errors.Is(err, accounts.ErrStale) {
		// The password changed since the password step.
		h.pendingExpired(w, r)
		return
	} else if errors.As(err, &unverified) {
		h.unverified(w, r, unverified.User, p.FlowID, p.ReturnTo)
		return
	} else if err != nil {
		h.internalError(w, r, "record sign-in", err)
		return
	}
	sess, err := h.c.Sessions.Create(ctx, w, r, u.ID, p.AMR)
	if err != nil {
		h.internalError(w, r, "create session", err)
		return
	}
	// A password change, reset or disabling that landed after the check
	// above ended every session it could see, but not this one, made
	// since: it checks again and ends itself.
	if cur, err := h.c.Store.GetUser(ctx, u.ID); err != nil || !h.goesOn(p, cur) {
		if err := h.c.Sessions.Delete(ctx, sess.ID); err != nil {
			h.internalError(w, r, "end session", err)
			return
		}
		h.pendingExpired(w, r)
		return
	}
	if f == nil {
		web.Redirect(w, r, h.returnTo(p.ReturnTo))
		return
	}
	h.resume(w, r, f, sess)
}

// resume records the session in the flow and sends the browser back to
// provider.
func (h *Handler) resume(w http.ResponseWriter, r *http.Request, f *flow.Flow, sess *session.Session) {
	f.UserID, f.SessionID, f.AuthTime = sess.UserID, sess.ID, sess.AuthTime
	f.AMR = slices.Clone(sess.AMR)
	f.Stage = flow.StageResume
	if err := h.c.Flows.Save(r.Context(), f); errors.Is(err, flow.ErrNotFound) {
		h.c.Site.Problem(w, r, http.StatusBadRequest, web.ProblemExpiredSignIn)
		return
	} else if err != nil {
		h.internalError(w, r, "save flow", err)
		return
	}
	web.Redirect(w, r, h.c.Flows.URL(flow.StageResume, f.ID))
}

// tooMany sets Retry-After and has render show a message that says when to
// retry. It says nothing about whether the account exists.
func (h *Handler) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration, render func(msg string)) {
	web.SetRetryAfter(w.Header(), wait)
	render(web.T(r, "login.locked", "When", web.RetryText(r, wait)))
}

// loginURL is the sign-in page for a flow or a return path.
func (h *Handler) loginURL(flowID, ret string) string { return h.signInURL(flowID, ret, "") }
