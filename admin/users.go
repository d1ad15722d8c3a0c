package admin

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/storage"
)

// userView is a user as the admin API shows it: never a hash or secret.
type userView struct {
	ID                 string `json:"id"`
	Email              string `json:"email"`
	Name               string `json:"name"`
	Role               string `json:"role"`
	Disabled           bool   `json:"disabled"`
	EmailVerified      bool   `json:"email_verified"`
	PasswordMustChange bool   `json:"password_must_change"`
	TOTP               bool   `json:"totp"`
	CreatedAt          int64  `json:"created_at"`
	LastLoginAt        int64  `json:"last_login_at,omitempty"`
}

func viewUser(u storage.User) userView {
	v := userView{
		ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled, EmailVerified: u.EmailVerified,
		PasswordMustChange: u.PasswordMustChange, TOTP: u.TOTPEnabled(), CreatedAt: u.CreatedAt.Unix(),
	}
	if !u.LastLoginAt.IsZero() {
		v.LastLoginAt = u.LastLoginAt.Unix()
	}
	return v
}

// userDetail adds what a user holds: the apps they granted access to and
// their unused backup codes.
type userDetail struct {
	userView
	Apps        []string      `json:"apps"`
	BackupCodes int           `json:"backup_codes"`
	Passkeys    []passkeyView `json:"passkeys"`
	Sessions    []sessionView `json:"sessions"`
}

// passkeyView is one of a user's passkeys.
type passkeyView struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Synced     bool   `json:"synced"` // may be synced between devices
	CreatedAt  int64  `json:"created_at"`
	LastUsedAt int64  `json:"last_used_at,omitempty"`
}

// userPasskeys lists the user's passkeys, oldest first.
func (h *Handler) userPasskeys(c *call, userID string) ([]passkeyView, error) {
	ps, err := h.c.Store.ListPasskeys(c.ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]passkeyView, 0, len(ps))
	for _, p := range ps {
		v := passkeyView{ID: passkey.ID(p), Name: p.Name, Synced: p.BackupEligible, CreatedAt: p.CreatedAt.Unix()}
		if !p.LastUsedAt.IsZero() {
			v.LastUsedAt = p.LastUsedAt.Unix()
		}
		out = append(out, v)
	}
	return out, nil
}

// sessionView is one of a user's browser sessions.
type sessionView struct {
	ID        string `json:"id"`
	CreatedAt int64  `json:"created_at"`
	LastSeen  int64  `json:"last_seen"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
}

// userSessions lists the user's browser sessions, when the handler has
// the session store.
func (h *Handler) userSessions(c *call, userID string) ([]sessionView, error) {
	out := []sessionView{}
	if h.c.Sessions == nil {
		return out, nil
	}
	ss, err := h.c.Sessions.List(c.ctx, userID)
	for _, s := range ss {
		out = append(out, sessionView{ID: s.ID, CreatedAt: s.CreatedAt.Unix(), LastSeen: s.LastSeen.Unix(), IP: s.IP, UserAgent: s.UserAgent})
	}
	return out, err
}

func userPos(u storage.User) position { return position{u.CreatedAt, u.ID} }

// listUsers pages the users, those whose address or name contains ?q=
// (letter case ignored) when it is given.
func (h *Handler) listUsers(c *call) {
	us, err := h.c.Store.ListUsers(c.ctx)
	if err != nil {
		h.serverError(c, "list users", err)
		return
	}
	paged(c, searchUsers(us, c.r.URL.Query().Get("q")), userPos, viewUser)
}

// searchUsers keeps the users whose address or name contains q, letter
// case ignored; all of them when q is blank.
func searchUsers(us []storage.User, q string) []storage.User {
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" {
		return us
	}
	return slices.DeleteFunc(us, func(u storage.User) bool {
		return !strings.Contains(strings.ToLower(u.Email), q) && !strings.Contains(strings.ToLower(u.Name), q)
	})
}

// newUser is the body of a user's creation.
type newUser struct {
	Email              string `json:"email"`
	Name               string `json:"name"`
	Role               string `json:"role"`
	Password           string `json:"password"`
	PasswordMustChange bool   `json:"password_must_change"`
}

func (h *Handler) createUser(c *call) {
	var n newUser
	if !c.decode(&n) {
		return
	}
	if n.Role == "" {
		n.Role = storage.RoleUser
	}
	u, err := h.c.Accounts.Create(c.ctx, c.actor, accounts.NewUser{Email: n.Email, Name: n.Name, Role: n.Role, Password: n.Password, MustChange: n.PasswordMustChange})
	if !h.accountError(c, err) {
		return
	}
	c.w.Header().Set("Location", Path+"/users/"+u.ID)
	c.item(http.StatusCreated, viewUser(u))
}

// accountError answers the accounts service's error; true when there was
// none.
func (h *Handler) accountError(c *call, err error) bool {
	var verr *accounts.ValidationError
	switch {
	case err == nil:
		return true
	case errors.As(err, &verr):
		writeError(c.w, http.StatusBadRequest, "invalid_user", verr.Field+": "+verr.Message)
	case errors.Is(err, storage.ErrAlreadyExists):
		writeError(c.w, http.StatusConflict, "conflict", "A user with this email address exists already.")
	case errors.Is(err, storage.ErrNotFound):
		notFound(c, "user")
	default:
		h.serverError(c, "change user", err)
	}
	return false
}

func (h *Handler) loadUser(c *call) (storage.User, bool) {
	u, err := h.c.Store.GetUser(c.ctx, c.pathVar("id"))
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "user")
		return u, false
	} else if err != nil {
		h.serverError(c, "load user", err)
		return u, false
	}
	return u, true
}

func (h *Handler) getUser(c *call) {
	u, ok := h.loadUser(c)
	if !ok {
		return
	}
	consents, err := h.c.Store.ListConsents(c.ctx, u.ID)
	if err != nil {
		h.serverError(c, "list consents", err)
		return
	}
	codes, err := h.c.Store.CountBackupCodes(c.ctx, u.ID)
	if err != nil {
		h.serverError(c, "count backup codes", err)
		return
	}
	sessions, err := h.userSessions(c, u.ID)
	if err != nil {
		h.serverError(c, "list sessions", err)
		return
	}
	passkeys, err := h.userPasskeys(c, u.ID)
	if err != nil {
		h.serverError(c, "list passkeys", err)
		return
	}
	d := userDetail{userView: viewUser(u), Apps: []string{}, BackupCodes: codes, Passkeys: passkeys, Sessions: sessions}
	for _, cs := range consents {
		d.Apps = append(d.Apps, cs.ClientID)
	}
	c.w.Header().Set("ETag", etag(viewUser(u)))
	writeJSON(c.w, http.StatusOK, d)
}

// userPatch is the body of a user's update: the fields to change.
type userPatch struct {
	Name               *string `json:"name"`
	Role               *string `json:"role"`
	PasswordMustChange *bool   `json:"password_must_change"`
}

func (h *Handler) updateUser(c *call) {
	u, ok := h.loadUser(c)
	if !ok || !c.matches(viewUser(u)) {
		return
	}
	var p userPatch
	if !c.decode(&p) {
		return
	}
	if p.PasswordMustChange != nil && !*p.PasswordMustChange {
		writeError(c.w, http.StatusBadRequest, "invalid_user", "password_must_change: can only be set; the user clears it by choosing a password.")
		return
	}
	var err error
	if p.Name != nil {
		u, err = h.c.Accounts.SetName(c.ctx, c.actor, u.ID, *p.Name)
	}
	if err == nil && p.Role != nil {
		u, err = h.c.Accounts.SetRole(c.ctx, c.actor, u.ID, *p.Role)
	}
	if err == nil && p.PasswordMustChange != nil {
		u, err = h.c.Accounts.RequirePasswordChange(c.ctx, c.actor, u.ID)
	}
	if h.accountError(c, err) {
		c.item(http.StatusOK, viewUser(u))
	}
}

// userAction is an action on a user: POST /admin/users/{id}/NAME.
func (h *Handler) userAction(act func(c *call, u storage.User) (storage.User, error)) func(*call) {
	return func(c *call) {
		u, ok := h.loadUser(c)
		if !ok {
			return
		}
		u, err := act(c, u)
		if h.accountError(c, err) {
			c.item(http.StatusOK, viewUser(u))
		}
	}
}

func (h *Handler) disableUser(c *call, u storage.User) (storage.User, error) {
	return h.c.Accounts.SetDisabled(c.ctx, c.actor, u.ID, true)
}

func (h *Handler) enableUser(c *call, u storage.User) (storage.User, error) {
	return h.c.Accounts.SetDisabled(c.ctx, c.actor, u.ID, false)
}

func (h *Handler) resetMFA(c *call, u storage.User) (storage.User, error) {
	return h.c.Accounts.ResetMFA(c.ctx, c.actor, u.ID)
}

func (h *Handler) revokeUser(c *call, u storage.User) (storage.User, error) {
	return u, h.c.Accounts.RevokeUser(c.ctx, c.actor, u.ID)
}

func (h *Handler) sendPasswordReset(c *call, u storage.User) (storage.User, error) {
	return u, h.c.Accounts.SendPasswordReset(c.ctx, c.actor, u)
}
