package provider

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	redisstore "github.com/latch-idp/latch/storage/redis"
	"github.com/latch-idp/latch/web"
)

// userCodeLimitKey is the one key every guess of a user code counts
// against, besides the guesser's address.
const userCodeLimitKey = "device-user-code"

// device is the verification page (RFC 8628 section 3.3): it takes the
// user code, typed into its form or carried by verification_uri_complete,
// and starts a flow that signs the user in and asks for consent.
func (h *Handler) device(w http.ResponseWriter, r *http.Request) {
	typed := r.PostFormValue("user_code")
	if r.Method != http.MethodPost {
		typed = r.URL.Query().Get("user_code")
		if typed == "" {
			h.pages.DeviceCode(w, r, http.StatusOK, "", "")
			return
		}
	}
	if len(typed) > maxUserCodeInput {
		typed = ""
	}
	code, ok := normalizeUserCode(typed)
	if !ok {
		h.pages.DeviceCode(w, r, http.StatusBadRequest, typed, web.T(r, "device_page.not_a_code"))
		return
	}
	d, err := h.lookUpUserCode(r, code)
	if wait, locked := accounts.Locked(err); locked {
		web.SetRetryAfter(w.Header(), wait)
		h.pages.DeviceCode(w, r, http.StatusTooManyRequests, typed, web.T(r, "device_page.too_many", "When", web.RetryText(r, wait)))
		return
	}
	switch {
	case errors.Is(err, accounts.ErrWrong):
		h.pages.DeviceCode(w, r, http.StatusBadRequest, typed, web.T(r, "device_page.wrong"))
		return
	case err != nil:
		h.serverError(w, r, "look up user code", err)
		return
	case d.Status != redisstore.DevicePending:
		h.pages.Problem(w, r, http.StatusBadRequest, problemCodeUsed)
		return
	case !time.Now().Before(d.Expires):
		h.pages.Problem(w, r, http.StatusBadRequest, problemCodeExpired)
		return
	}
	f, err := h.deviceFlow(r.Context(), d, code)
	if isNotFound(err) {
		h.pages.Problem(w, r, http.StatusBadRequest, problemClientGone)
		return
	} else if err != nil {
		h.serverError(w, r, "start device flow", err)
		return
	}
	h.advanceDevice(w, r, f)
}

// lookUpUserCode finds the device authorization of a user code, each
// attempt counted under the limits of guesses. A right code does not
// forgive the wrong ones before it (anyone can get a right code from the
// device authorization endpoint); a code used or expired is no guess.
func (h *Handler) lookUpUserCode(r *http.Request, code string) (redisstore.Device, error) {
	var d redisstore.Device
	err := h.userCodes.Check(r.Context(), accounts.Keys{Account: userCodeLimitKey, IP: web.ClientIP(r)}, func(ctx context.Context) (bool, error) {
		var err error
		d, err = h.volatile.DeviceByUserCode(ctx, code)
		if errors.Is(err, storage.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})
	return d, err
}

// deviceFlow is the flow of a device authorization: what the consent page
// shows, and the sign-in the client's minimum_acr_value asks for.
func (h *Handler) deviceFlow(ctx context.Context, d redisstore.Device, code string) (*flow.Flow, error) {
	fc, err := h.fstore.clients.get(ctx, d.ClientID)
	if err != nil {
		return nil, err
	}
	ar, err := UnmarshalRequest(d.Request, nil, fc)
	if err != nil {
		return nil, err
	}
	c := fc.(client)
	f := &flow.Flow{
		ClientID:   c.ID,
		ClientName: c.Name,
		Scopes:     ar.GetRequestedScopes(),
		APIs:       h.apiNames(ctx, ar),
		CreatedAt:  time.Now().UTC(),
		ACR:        h.requiredACR(c, ""),
		Device:     d.ID,
		UserCode:   formatUserCode(code),
	}
	if f.ClientName == "" {
		f.ClientName = c.ID
	}
	return f, nil
}

// advanceDevice takes a device flow to its next step: sign-in, the
// consent page (always: it is where a user who was handed someone else's
// code can still stop), then the decision recorded for the device.
func (h *Handler) advanceDevice(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	ctx := r.Context()
	user, signedIn, err := h.flowUser(r, f)
	switch {
	case errors.Is(err, errOtherSession):
		h.pages.Problem(w, r, http.StatusBadRequest, problemOtherSession)
		return
	case errors.Is(err, errUserGone):
		h.pages.Problem(w, r, http.StatusForbidden, problemCannotGrant)
		return
	case err != nil:
		h.serverError(w, r, "load session", err)
		return
	case !signedIn:
		h.sendTo(w, r, f, flow.StageLogin)
		return
	}
	if !f.Consented && !f.Denied {
		h.sendTo(w, r, f, flow.StageConsent)
		return
	}
	if !h.takeFlow(ctx, f) {
		h.pages.Problem(w, r, http.StatusBadRequest, problemAnswered)
		return
	}
	err = h.decideDevice(ctx, f, user)
	if isNotFound(err) {
		h.pages.Problem(w, r, http.StatusBadRequest, problemExpiredOrUsed)
		return
	} else if err != nil {
		h.serverError(w, r, "record device decision", err)
		return
	}
	h.pages.DeviceDone(w, r, f.Consented, f.ClientName)
}

// decideDevice records the user's answer for the device: a denial, or the
// grant the token endpoint will issue, made under the code flow's rules.
func (h *Handler) decideDevice(ctx context.Context, f *flow.Flow, user storage.User) error {
	now := time.Now()
	if !f.Consented {
		return h.volatile.DecideDevice(ctx, f.Device, redisstore.DeviceDenied, nil, now)
	}
	d, err := h.volatile.Device(ctx, f.Device)
	if err != nil {
		return err
	}
	fc, err := h.fstore.clients.get(ctx, d.ClientID)
	if err != nil {
		return err
	}
	ar, err := UnmarshalRequest(d.Request, nil, fc)
	if err != nil {
		return err
	}
	grantScopes(ar, fc.(client), user, f.GrantedScopes)
	ar.SetSession(h.newSession(user, f, d.ClientID, ar))
	data, err := MarshalRequest(ar)
	if err != nil {
		return err
	}
	return h.volatile.DecideDevice(ctx, f.Device, redisstore.DeviceApproved, data, now)
}

// errUserGone: the user a flow signed in is deleted or disabled.
var errUserGone = errors.New("provider: user not available")

// flowUser binds the flow to this browser's session (sessionFor) and
// loads the user who signed in; signedIn is false when the user must sign
// in first. A deleted or disabled user is errUserGone, and their browser
// session ends.
func (h *Handler) flowUser(r *http.Request, f *flow.Flow) (user storage.User, signedIn bool, err error) {
	if signedIn, err = h.sessionFor(r, f); err != nil || !signedIn {
		return storage.User{}, signedIn, err
	}
	user, err = h.store.GetUser(r.Context(), f.UserID)
	if isNotFound(err) || (err == nil && user.Disabled) {
		_ = h.sessions.Delete(r.Context(), f.SessionID)
		return storage.User{}, false, errUserGone
	}
	return user, err == nil, err
}

// errOtherSession: a flow's sign-in happened in another browser session.
var errOtherSession = errors.New("provider: flow of another session")

// sessionFor binds the flow to this browser's session: the one it signed
// in with (errOtherSession for any other), or a session that may serve
// it (not forced to sign in again, recent enough, with the factors asked
// for). signedIn is false when the user must sign in first.
func (h *Handler) sessionFor(r *http.Request, f *flow.Flow) (signedIn bool, err error) {
	sess, err := h.sessions.Get(r.Context(), r)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		return false, err
	}
	if f.UserID != "" {
		if sess == nil || sess.ID != f.SessionID {
			return false, errOtherSession
		}
		return true, nil
	}
	if sess != nil && !f.ForceLogin && !sess.AuthTime.Before(f.RequireFresh) && passkey.Satisfies(f.ACR, sess.AMR) {
		f.UserID, f.SessionID, f.AuthTime, f.AMR = sess.UserID, sess.ID, sess.AuthTime, sess.AMR
		return true, nil
	}
	return false, nil
}

// grantScopes grants ar the scopes the user consented to, as every grant
// does: first-party clients that may refresh stay signed in without
// asking for offline_access (README), and latch's admin API is for
// administrators only.
func grantScopes(ar fosite.Requester, c client, user storage.User, consented []string) {
	granted := consented
	if c.FirstParty && c.GetGrantTypes().Has(clients.GrantRefreshToken) && !slices.Contains(granted, "offline_access") {
		granted = append(slices.Clone(granted), "offline_access")
	}
	for _, s := range granted {
		if s == resources.AdminScope && user.Role != storage.RoleAdmin {
			continue
		}
		if ar.GetRequestedScopes().Has(s) || s == "offline_access" {
			ar.GrantScope(s)
		}
	}
}

// The device page's problems.
var (
	problemCodeUsed      = web.Problem{Heading: "device_page.used", Message: "device_page.used_text", LinkText: "device_page.another_code", LinkHref: PathDevice}
	problemCodeExpired   = web.Problem{Heading: "device_page.expired", Message: "device_page.expired_text", LinkText: "device_page.another_code", LinkHref: PathDevice}
	problemExpiredOrUsed = web.Problem{Heading: "device_page.expired", Message: "device_page.expired_or_used_text", LinkText: "device_page.another_code", LinkHref: PathDevice}
	problemClientGone    = web.Problem{Heading: "device_page.client_gone", Message: "device_page.client_gone_text"}
	problemOtherSession  = web.Problem{Heading: "device_page.other_session", Message: "device_page.other_session_text", LinkText: "device_page.enter_code", LinkHref: PathDevice}
	problemCannotGrant   = web.Problem{Heading: "consent.cannot_grant", Message: "consent.cannot_grant_text"}
	problemAnswered      = web.Problem{Heading: "device_page.answered", Message: "device_page.answered_text"}
)
