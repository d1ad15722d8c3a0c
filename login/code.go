package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/telemetry"
	"github.com/latch-idp/latch/web"
)

// codePage is the data of the second step: a passkey, offered first, and
// a TOTP or backup code.
type codePage struct {
	Error        string // tied to the code field
	PasskeyError string // shown above the passkey button
	TOTP         bool   // the account has TOTP (and so backup codes)
	Passkey      bool   // the account has a passkey
	// PasskeyRequired: the app asks for a passkey; no code will do.
	PasskeyRequired bool
	NoPasskey       string // why the sign-in cannot go on: a passkey required, none registered
}

// renderSecondStep shows the second step of p, u's pending sign-in, with
// the ways u has.
func (h *Handler) renderSecondStep(w http.ResponseWriter, r *http.Request, status int, p *pending, u storage.User, v codePage) {
	ps, err := h.listPasskeys(r.Context(), u.ID)
	if err != nil {
		h.internalError(w, r, "list passkeys", err)
		return
	}
	v.Passkey, v.PasskeyRequired = len(ps) > 0, p.ACR != ""
	v.TOTP = u.TOTPEnabled() && !v.PasskeyRequired
	if v.PasskeyRequired && !v.Passkey {
		v.NoPasskey = web.T(r, passkeyRequiredNoPasskey)
	}
	title := "code.title"
	if v.Passkey && !v.TOTP {
		title = "code.title_passkey"
	} else if v.Passkey {
		title = "code.title_either"
	}
	if v.Passkey {
		h.pages.RenderScript(w, r, status, pageCode, title, web.ScriptPasskey, v)
		return
	}
	h.pages.Render(w, r, status, pageCode, title, v)
}

func (h *Handler) showCode(w http.ResponseWriter, r *http.Request) {
	p, err := h.loadPending(r.Context(), r)
	if errors.Is(err, errNoPending) {
		web.Redirect(w, r, PathLogin)
		return
	} else if err != nil {
		h.internalError(w, r, "load pending sign-in", err)
		return
	}
	if !p.NeedCode {
		h.next(w, r, p, false)
		return
	}
	p, u, ok := h.loadPendingUser(w, r)
	if !ok {
		return
	}
	h.renderSecondStep(w, r, http.StatusOK, p, u, codePage{})
}

func (h *Handler) postCode(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, u, ok := h.loadPendingUser(w, r)
	if !ok {
		return
	}
	if !p.NeedCode {
		h.next(w, r, p, false)
		return
	}
	renderCode := func(w http.ResponseWriter, r *http.Request, status int, v codePage) {
		h.renderSecondStep(w, r, status, p, u, v)
	}
	if p.ACR != "" || !u.TOTPEnabled() {
		renderCode(w, r, http.StatusBadRequest, codePage{PasskeyError: web.T(r, "code.use_passkey")})
		return
	}
	var kind, reason string
	err := h.attempts.Check(ctx, accounts.Keys{Account: "code:" + p.UserID, IP: "ip:" + web.ClientNetwork(r)}, func(ctx context.Context) (bool, error) {
		ok, k, err := h.c.TOTP.CheckSecondFactor(ctx, h.c.Store, u, r.PostFormValue("code"))
		if err != nil {
			return false, err
		}
		if !ok {
			e := h.event(r, "login_failed", u.ID)
			e.Detail = map[string]string{"reason": telemetry.ReasonWrongCode}
			h.audit(ctx, e)
			reason = telemetry.ReasonWrongCode
		}
		kind = k
		return ok, nil
	})
	h.countStep(telemetry.StepCode, err, reason)
	if wait, ok := accounts.Locked(err); ok {
		h.tooMany(w, r, wait, func(msg string) { renderCode(w, r, http.StatusTooManyRequests, codePage{Error: msg}) })
		return
	} else if errors.Is(err, accounts.ErrWrong) {
		renderCode(w, r, http.StatusUnauthorized, codePage{Error: web.T(r, "code.wrong")})
		return
	} else if err != nil {
		h.internalError(w, r, "check code", err)
		return
	}
	if kind == mfa.KindBackup {
		h.audit(ctx, h.event(r, "backup_code_used", u.ID))
	}
	p.NeedCode = false
	p.AMR = append(p.AMR, "otp")
	h.next(w, r, p, false)
}
