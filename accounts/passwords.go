package accounts

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
)

// resetTTL is how long a password reset link works.
const resetTTL = 30 * time.Minute

// purposeReset separates reset tokens from the other link tokens.
const purposeReset = "latch password-reset v1"

// Reasons a sign-in is refused by Authenticate, as the audit log records them.
const (
	FailUnknownEmail  = "unknown_email"
	FailWrongPassword = "wrong_password"
	FailDisabled      = "disabled"
)

// Authenticate checks pw for the account of email (normalized). It returns
// the user, or a failure reason (Fail...) that callers must not show: a
// wrong email, a wrong password and a disabled account get one answer. An
// unknown email is checked against a dummy hash, so that it takes as long
// as a wrong password. A right password stored under weaker parameters is
// stored again under the current ones; the user returned carries the hash
// now stored.
func (s *Service) Authenticate(ctx context.Context, email, pw string) (storage.User, string, error) {
	u, err := s.c.Store.GetUserByEmail(ctx, email)
	known := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, "", err
	}
	ok, rehash, err := s.c.Hasher.Verify(ctx, u.PasswordHash, pw)
	if errors.Is(err, password.ErrBusy) {
		return storage.User{}, "", err
	} else if err != nil && known {
		return storage.User{}, "", err
	}
	switch {
	case !known:
		return u, FailUnknownEmail, nil
	case !ok:
		return u, FailWrongPassword, nil
	case u.Disabled:
		return u, FailDisabled, nil
	}
	if rehash {
		u.PasswordHash = s.upgradeHash(ctx, u, pw)
	}
	return u, "", nil
}

// upgradeHash stores a hash of pw with the current parameters, unless the
// password changed meanwhile, and returns the hash now stored (u's own when
// the upgrade did not happen). A failure only postpones the upgrade.
func (s *Service) upgradeHash(ctx context.Context, u storage.User, pw string) string {
	phc, err := s.c.Hasher.Hash(ctx, pw)
	if err != nil {
		s.c.Log.WarnContext(ctx, "accounts: rehash password", "err", err)
		return u.PasswordHash
	}
	_, err = s.c.Store.UpdateUser(ctx, u.ID, storage.Effects{}, func(cur *storage.User) error {
		if cur.PasswordHash != u.PasswordHash {
			return ErrStale
		}
		cur.PasswordHash = phc
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrStale) {
			s.c.Log.WarnContext(ctx, "accounts: store upgraded hash", "err", err)
		}
		return u.PasswordHash
	}
	return phc
}

// NewPasswordReason says why a user who signed in with the right password
// must choose a new one before going on.
type NewPasswordReason int

const (
	// KeepPassword: the password may stay.
	KeepPassword NewPasswordReason = iota
	// PasswordMustChange: an operator asked for a new password.
	PasswordMustChange
	// PasswordRefused: the password no longer passes the Checker (the
	// rules grew stricter, or it appeared in a breach).
	PasswordRefused
)

// NewPasswordNeeded tells whether u, who just signed in with pw, must
// choose a new password. A breach check that cannot be made is no reason.
func (s *Service) NewPasswordNeeded(ctx context.Context, u storage.User, pw string) NewPasswordReason {
	if u.PasswordMustChange {
		return PasswordMustChange
	}
	if err := s.c.Checker.Check(ctx, pw); err != nil {
		var perr *password.Error
		if errors.As(err, &perr) && !errors.Is(err, password.ErrBreachUnavailable) {
			return PasswordRefused
		} else if !errors.As(err, &perr) {
			s.c.Log.WarnContext(ctx, "accounts: check current password", "err", err)
		}
	}
	return KeepPassword
}

// SameMessage refuses a new password that is the current one.
const SameMessage = "Choose a password different from your current one."

// acceptable returns a *ValidationError about FieldNewPassword when pw
// cannot be the user's new password: the Checker refuses it, or current
// says it is the current one.
func (s *Service) acceptable(ctx context.Context, pw string, current func() (bool, error)) error {
	if err := s.checkNew(ctx, FieldNewPassword, pw); err != nil {
		return err
	}
	same, err := current()
	if err != nil {
		return err
	}
	if same {
		return &ValidationError{Field: FieldNewPassword, Message: SameMessage, ID: "form.password_same"}
	}
	return nil
}

// isCurrent is acceptable's test of a password against u's stored hash.
func (s *Service) isCurrent(ctx context.Context, u storage.User, pw string) func() (bool, error) {
	return func() (bool, error) {
		if u.PasswordHash == "" {
			return false, nil
		}
		same, _, err := s.c.Hasher.Verify(ctx, u.PasswordHash, pw)
		return same, err
	}
}

// setPassword stores a hash of pw, unless the password changed since u was
// read (ErrStale), clears password_must_change, mails the notice and
// records auditKind in the same write, then revokes every session and token
// of the user. mutate, when set, changes more in the same write. It returns
// the stored hash.
func (s *Service) setPassword(ctx context.Context, a Actor, u storage.User, pw, auditKind string, mutate func(*storage.User)) (string, error) {
	phc, err := s.c.Hasher.Hash(ctx, pw)
	if err != nil {
		return "", err
	}
	fx := storage.Effects{
		Audit: []storage.AuditEvent{a.event(auditKind, u.ID, nil)},
		Mail:  []storage.MailJob{a.notice(u, "password_changed")},
	}
	_, err = s.c.Store.UpdateUser(ctx, u.ID, fx, func(cur *storage.User) error {
		if cur.PasswordHash != u.PasswordHash {
			return ErrStale
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
	return phc, s.c.Revoker.RevokeUser(ctx, u.ID)
}

// PasswordChange is a signed-in user's change of their own password.
type PasswordChange struct {
	User     storage.User
	Current  string
	New      string
	Attempts *Attempts // limits the current-password check, per user
}

// ChangePassword checks c.Current under c.Attempts (ErrWrong, a
// *LockedError), then c.New by the rules (a *ValidationError about
// FieldNewPassword), stores it with the audit event and notice mail, and
// ends every session and token of the user. ErrStale: the password changed
// since c.User was read.
func (s *Service) ChangePassword(ctx context.Context, a Actor, c PasswordChange) error {
	u := c.User
	err := c.Attempts.Check(ctx, Keys{Account: "account-password:" + u.ID}, func(ctx context.Context) (bool, error) {
		ok, _, err := s.c.Hasher.Verify(ctx, u.PasswordHash, c.Current)
		return ok, err
	})
	if err != nil {
		return err
	}
	// The current password was just verified: comparing the strings says
	// what another hash would.
	if err := s.acceptable(ctx, c.New, func() (bool, error) { return c.Current == c.New, nil }); err != nil {
		return err
	}
	_, err = s.setPassword(ctx, a, u, c.New, "password_changed", nil)
	return err
}

// SetNewPassword replaces the password of u, who signed in with it but must
// choose a new one, by the rules ChangePassword applies (a
// *ValidationError about FieldNewPassword), and ends every session and
// token of the user. It returns the stored hash; ErrStale when the password
// changed since u was read.
func (s *Service) SetNewPassword(ctx context.Context, a Actor, u storage.User, pw string) (string, error) {
	if err := s.acceptable(ctx, pw, s.isCurrent(ctx, u, pw)); err != nil {
		return "", err
	}
	return s.setPassword(ctx, a, u, pw, "password_changed", nil)
}

// SendPasswordReset mails u a link to choose a new password; it works for
// 30 minutes and only while the password is the one it was made for.
func (s *Service) SendPasswordReset(ctx context.Context, a Actor, u storage.User) error {
	if err := s.needBox(); err != nil {
		return err
	}
	exp := time.Now().Add(resetTTL)
	link := s.c.ResetURL + "?token=" + url.QueryEscape(SignLink(s.c.Box, purposeReset, u.ID, exp, u.PasswordHash))
	if err := s.c.Store.EnqueueMail(ctx, storage.MailJob{To: u.Email, Template: "password_reset", Locale: a.locale(u), Data: map[string]string{
		"link": link, "expires": resetTTL.String(),
	}}); err != nil {
		return err
	}
	s.audit(ctx, a.event("password_reset_requested", u.ID, nil))
	return nil
}

// ResetUser returns the user a reset link was made for, while the user is
// enabled and the password it covers is still the current one.
func (s *Service) ResetUser(ctx context.Context, token string) (storage.User, bool) {
	if s.c.Box == nil {
		return storage.User{}, false
	}
	id, exp, mac, ok := ParseLink(token, time.Now())
	if !ok {
		return storage.User{}, false
	}
	u, err := s.c.Store.GetUser(ctx, id)
	if err != nil || u.Disabled {
		return storage.User{}, false
	}
	return u, CheckLink(s.c.Box, purposeReset, id, exp, u.PasswordHash, mac)
}

// ResetPassword sets pw as the password of the user the reset link token
// was made for, by the rules ChangePassword applies (a *ValidationError
// about FieldNewPassword), and ends every session and token of the user.
// ErrStale: the link is invalid, expired or used. The user is returned for
// a form shown again.
func (s *Service) ResetPassword(ctx context.Context, a Actor, token, pw string) (storage.User, error) {
	u, ok := s.ResetUser(ctx, token)
	if !ok {
		return storage.User{}, ErrStale
	}
	if err := s.acceptable(ctx, pw, s.isCurrent(ctx, u, pw)); err != nil {
		return u, err
	}
	// The write succeeds only while the password is the one the token
	// covers; reading the link proved the address, so it is verified too.
	_, err := s.setPassword(ctx, a, u, pw, "password_reset", func(cur *storage.User) {
		if !cur.EmailVerified {
			// Whoever set up a second factor on this account before its
			// owner proved the address must not keep it.
			cur.TOTPSecret = nil
		}
		cur.EmailVerified = true
	})
	return u, err
}
