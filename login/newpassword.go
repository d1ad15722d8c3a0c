package login

import (
	"errors"
	"net/http"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/web"
)

// newPasswordPage is the data of the forced new-password page and of the
// reset page.
type newPasswordPage struct {
	Reason string // why a new password is needed
	Email  string // for password managers: the account the password is for
	Token  string // reset only
	Error  string // tied to the new_password field
}

func (h *Handler) renderNewPassword(w http.ResponseWriter, r *http.Request, status int, v newPasswordPage) {
	h.pages.Render(w, r, status, pageNewPassword, "new_password.title", v)
}

func (h *Handler) showNewPassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := h.loadPending(ctx, r)
	if errors.Is(err, errNoPending) {
		web.Redirect(w, r, PathLogin)
		return
	} else if err != nil {
		h.internalError(w, r, "load pending sign-in", err)
		return
	}
	if p.NeedCode || p.MustChange == "" {
		h.next(w, r, p, false)
		return
	}
	u, err := h.c.Store.GetUser(ctx, p.UserID)
	if err != nil {
		h.internalError(w, r, "load user", err)
		return
	}
	h.renderNewPassword(w, r, http.StatusOK, newPasswordPage{Reason: web.T(r, p.MustChange), Email: u.Email})
}

func (h *Handler) postNewPassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, u, ok := h.loadPendingUser(w, r)
	if !ok {
		return
	}
	if p.NeedCode || p.MustChange == "" {
		h.next(w, r, p, false)
		return
	}
	v := newPasswordPage{Reason: web.T(r, p.MustChange), Email: u.Email}
	phc, err := h.c.Accounts.SetNewPassword(ctx, actor(r), u, r.PostFormValue("new_password"))
	if invalid := accounts.Invalid(err); len(invalid) > 0 {
		v.Error = invalid[0].In(web.Lang(r))
		h.renderNewPassword(w, r, http.StatusBadRequest, v)
		return
	} else if errors.Is(err, password.ErrBusy) {
		h.busy(w, r)
		return
	} else if errors.Is(err, accounts.ErrStale) {
		h.pendingExpired(w, r)
		return
	} else if err != nil {
		h.internalError(w, r, "set new password", err)
		return
	}
	p.MustChange = ""
	p.Password = h.passwordBinding(phc)
	h.next(w, r, p, false)
}
