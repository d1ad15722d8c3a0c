package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/telemetry"
	"github.com/latch-idp/latch/web"
)

// Paths of the passkey steps: passwordless sign-in from the sign-in page,
// and a passkey as the second step. Each has an options endpoint the
// page's script asks first.
const (
	PathPasskey              = "/login/passkey"
	PathPasskeyOptions       = "/login/passkey/options"
	PathCodePasskey          = "/login/code/passkey"
	PathCodePasskeyOptions   = "/login/code/passkey/options"
	passkeyNeedsScript       = "passkey.needs_script"
	passkeyNotAccepted       = "passkey.not_accepted"
	passkeyCeremonyExpired   = "passkey.ceremony_expired"
	passkeyTooWeak           = "passkey.too_weak"
	passkeyRequiredNoPasskey = "passkey.required_none"
)

// listPasskeys returns the user's passkeys while passkeys are on, and none
// while they are off.
func (h *Handler) listPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error) {
	if h.c.Passkeys.Off() != "" {
		return nil, nil
	}
	return h.c.Store.ListPasskeys(ctx, userID)
}

// passkeySignInOptions begins a passwordless sign-in, bound to this
// browser.
func (h *Handler) passkeySignInOptions(w http.ResponseWriter, r *http.Request) {
	if h.c.Passkeys.Off() != "" {
		web.JSON(w, http.StatusNotFound, web.ScriptAnswer{Error: web.T(r, "passkey.off")})
		return
	}
	ctx := r.Context()
	key := "ip:" + web.ClientNetwork(r)
	wait, err := h.ceremonies.Check(ctx, key)
	if err == nil && wait == 0 {
		wait, err = h.ceremonies.Fail(ctx, key) // every one counts
	}
	if err != nil {
		h.c.Site.ScriptFailed(w, r, h.c.Log, "login: passkey sign-in limit", storage.MarkUnavailable(err))
		return
	} else if wait > 0 {
		web.SetRetryAfter(w.Header(), wait)
		web.JSON(w, http.StatusTooManyRequests, web.ScriptAnswer{Error: web.T(r, "passkey.too_many", "When", web.RetryText(r, wait))})
		return
	}
	state := h.c.Site.BrowserState(r)
	if state == "" {
		web.JSON(w, http.StatusBadRequest, web.ScriptAnswer{Error: web.T(r, "passkey.reload")})
		return
	}
	opts, err := h.c.Passkeys.BeginSignIn(r.Context(), state)
	if err != nil {
		h.c.Site.ScriptFailed(w, r, h.c.Log, "login: begin passkey sign-in", err)
		return
	}
	web.JSON(w, http.StatusOK, opts)
}

// postPasskey takes the answer to a passwordless sign-in. A passkey that
// verified its user is both factors: no password, no second step.
func (h *Handler) postPasskey(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := loginPage{FlowID: r.PostFormValue("flow"), ReturnTo: h.returnTo(r.PostFormValue("return_to"))}
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
	fail := func(status int, msg string) {
		v.Error = msg
		h.renderLogin(w, r, status, v)
	}
	answer := r.PostFormValue("credential")
	if answer == "" {
		fail(http.StatusBadRequest, web.T(r, passkeyNeedsScript))
		return
	}
	network := web.ClientNetwork(r)
	a, ok := h.checkPasskey(w, r, accounts.Keys{Account: "passkey:" + network, IP: "ip:" + network}, "", fail,
		func(ctx context.Context) (passkey.Assertion, error) {
			return h.c.Passkeys.FinishSignIn(ctx, h.c.Site.BrowserState(r), r.PostFormValue("ceremony"), []byte(answer))
		})
	if !ok {
		return
	}
	u, err := h.c.Store.GetUser(ctx, a.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
		fail(http.StatusUnauthorized, web.T(r, passkeyNotAccepted))
		return
	} else if err != nil {
		h.internalError(w, r, "load user", err)
		return
	}
	if !u.EmailVerified {
		h.unverified(w, r, u, v.FlowID, v.ReturnTo)
		return
	}
	amr := append(a.AMR(), "mfa")
	if !passkey.Satisfies(acr, amr) {
		fail(http.StatusUnauthorized, web.T(r, passkeyTooWeak))
		return
	}
	p := &pending{UserID: u.ID, FlowID: v.FlowID, ReturnTo: v.ReturnTo, AMR: amr, ACR: acr, Password: h.passwordBinding(u.PasswordHash)}
	if u.PasswordMustChange {
		p.MustChange = mustChangeMessage
	}
	h.next(w, r, p, true)
}

// passkeyVerifyOptions begins checking a passkey as the second step of
// the pending sign-in, bound to it.
func (h *Handler) passkeyVerifyOptions(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := h.loadPending(ctx, r)
	if errors.Is(err, errNoPending) {
		web.JSON(w, http.StatusBadRequest, web.ScriptAnswer{Redirect: PathLogin})
		return
	} else if err != nil {
		h.c.Site.ScriptFailed(w, r, h.c.Log, "login: load pending sign-in", err)
		return
	}
	u, err := h.c.Store.GetUser(ctx, p.UserID)
	if err != nil || !h.goesOn(p, u) {
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			h.c.Site.ScriptFailed(w, r, h.c.Log, "login: load user", err)
			return
		}
		web.JSON(w, http.StatusBadRequest, web.ScriptAnswer{Redirect: PathLogin})
		return
	}
	ps, err := h.listPasskeys(ctx, u.ID)
	if err != nil {
		h.c.Site.ScriptFailed(w, r, h.c.Log, "login: list passkeys", err)
		return
	}
	if len(ps) == 0 {
		web.JSON(w, http.StatusBadRequest, web.ScriptAnswer{Error: web.T(r, "passkey.none")})
		return
	}
	opts, err := h.c.Passkeys.BeginVerify(ctx, u, ps, h.pendingToken(r))
	if err != nil {
		h.c.Site.ScriptFailed(w, r, h.c.Log, "login: begin passkey verification", err)
		return
	}
	web.JSON(w, http.StatusOK, opts)
}

// postCodePasskey takes the answer to a passkey as the second step.
func (h *Handler) postCodePasskey(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, u, ok := h.loadPendingUser(w, r)
	if !ok {
		return
	}
	if !p.NeedCode {
		h.next(w, r, p, false)
		return
	}
	fail := func(status int, msg string) { h.renderSecondStep(w, r, status, p, u, codePage{PasskeyError: msg}) }
	answer := r.PostFormValue("credential")
	if answer == "" {
		fail(http.StatusBadRequest, web.T(r, passkeyNeedsScript))
		return
	}
	ps, err := h.listPasskeys(ctx, u.ID)
	if err != nil {
		h.internalError(w, r, "list passkeys", err)
		return
	}
	a, ok := h.checkPasskey(w, r, accounts.Keys{Account: "code:" + u.ID, IP: "ip:" + web.ClientNetwork(r)}, u.ID, fail,
		func(ctx context.Context) (passkey.Assertion, error) {
			return h.c.Passkeys.FinishVerify(ctx, u, ps, h.pendingToken(r), r.PostFormValue("ceremony"), []byte(answer))
		})
	if !ok {
		return
	}
	if !passkey.Satisfies(p.ACR, a.AMR()) {
		fail(http.StatusUnauthorized, web.T(r, passkeyTooWeak))
		return
	}
	p.NeedCode = false
	p.AMR = append(p.AMR, a.AMR()...)
	h.next(w, r, p, false)
}

// checkPasskey checks a passkey's answer with finish under the limits of
// keys, and answers a failure itself with fail (ok false): locked, an
// expired or used ceremony, or an answer that does not verify (audited
// for userID when there is one).
func (h *Handler) checkPasskey(w http.ResponseWriter, r *http.Request, keys accounts.Keys, userID string, fail func(int, string),
	finish func(ctx context.Context) (passkey.Assertion, error)) (a passkey.Assertion, ok bool) {
	ctx := r.Context()
	var expired bool
	err := h.attempts.Check(ctx, keys, func(ctx context.Context) (bool, error) {
		var err error
		a, err = finish(ctx)
		switch {
		case errors.Is(err, passkey.ErrExpired):
			expired = true
			return false, nil
		case errors.Is(err, passkey.ErrRefused) || errors.Is(err, passkey.ErrOff):
			if userID != "" {
				e := h.event(r, "login_failed", userID)
				e.Detail = map[string]string{"reason": telemetry.ReasonWrongPasskey}
				h.audit(ctx, e)
			}
			return false, nil
		}
		return err == nil, err
	})
	reason := ""
	if errors.Is(err, accounts.ErrWrong) {
		reason = telemetry.ReasonWrongPasskey
	}
	h.countStep(telemetry.StepPasskey, err, reason)
	if wait, locked := accounts.Locked(err); locked {
		h.tooMany(w, r, wait, func(msg string) { fail(http.StatusTooManyRequests, msg) })
	} else if errors.Is(err, accounts.ErrWrong) && expired {
		fail(http.StatusBadRequest, web.T(r, passkeyCeremonyExpired))
	} else if errors.Is(err, accounts.ErrWrong) {
		fail(http.StatusUnauthorized, web.T(r, passkeyNotAccepted))
	} else if err != nil {
		h.internalError(w, r, "check passkey", err)
	}
	return a, err == nil
}
