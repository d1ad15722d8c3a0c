package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/telemetry"
	"github.com/latch-idp/latch/web"
)

// codePage is the data of the second step.
type codePage struct {
	Error string
}

func (h *Handler) renderCode(w http.ResponseWriter, r *http.Request, status int, v codePage) {
	h.pages.Render(w, r, status, pageCode, "Enter your code", v)
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
	h.renderCode(w, r, http.StatusOK, codePage{})
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
		h.tooMany(w, r, wait, func(msg string) { h.renderCode(w, r, http.StatusTooManyRequests, codePage{Error: msg}) })
		return
	} else if errors.Is(err, accounts.ErrWrong) {
		h.renderCode(w, r, http.StatusUnauthorized, codePage{Error: "That code is not valid. Enter the current code from your app, or an unused backup code."})
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
