package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
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
	h.pages.Render(w, r, status, pageNewPassword, "Choose a new password", v)
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
	h.renderNewPassword(w, r, http.StatusOK, newPasswordPage{Reason: p.MustChange, Email: u.Email})
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
	v := newPasswordPage{Reason: p.MustChange, Email: u.Email}
	newPW := r.PostFormValue("new_password")
	if msg, err := h.acceptable(ctx, u, newPW); err != nil {
		if errors.Is(err, password.ErrBusy) {
			h.busy(w, r)
			return
		}
		h.internalError(w, r, "check new password", err)
		return
	} else if msg != "" {
		v.Error = msg
		h.renderNewPassword(w, r, http.StatusBadRequest, v)
		return
	}
	phc, err := h.setPassword(ctx, r, u, newPW, "password_changed", nil)
	if errors.Is(err, password.ErrBusy) {
		h.busy(w, r)
		return
	} else if errors.Is(err, errUsed) {
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

// acceptable returns a message for the page when pw cannot be the user's
// new password: the Checker refuses it, or it is the current one.
func (h *Handler) acceptable(ctx context.Context, u storage.User, pw string) (string, error) {
	if err := h.c.Checker.Check(ctx, pw); err != nil {
		var perr *password.Error
		if errors.As(err, &perr) {
			return perr.Message, nil
		}
		return "", err
	}
	if u.PasswordHash != "" {
		same, _, err := h.c.Hasher.Verify(ctx, u.PasswordHash, pw)
		if err != nil {
			return "", err
		}
		if same {
			return "Choose a password different from your current one.", nil
		}
	}
	return "", nil
}

// setPassword stores a hash of pw, unless the password changed since u was
// read (errUsed), clears password_must_change, mails the notice and records
// auditKind in the same write, then revokes every session and token of the
// user. mutate, when set, changes more in the same write. It returns the
// stored hash.
func (h *Handler) setPassword(ctx context.Context, r *http.Request, u storage.User, pw, auditKind string, mutate func(*storage.User)) (string, error) {
	phc, err := h.c.Hasher.Hash(ctx, pw)
	if err != nil {
		return "", err
	}
	fx := storage.Effects{
		Audit: []storage.AuditEvent{h.event(r, auditKind, u.ID)},
		Mail:  []storage.MailJob{noticeMail(u.Email, "password_changed", r)},
	}
	_, err = h.c.Store.UpdateUser(ctx, u.ID, fx, func(cur *storage.User) error {
		if cur.PasswordHash != u.PasswordHash {
			return errUsed
		}
		cur.PasswordHash = phc
		cur.PasswordMustChange = false
		if mutate != nil {
			mutate(cur)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	// Whoever knew the old password is signed out everywhere.
	return phc, h.c.Revoker.RevokeUser(ctx, u.ID)
}
