package accounts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/latch-idp/latch/storage"
)

// SignIn is a sign-in whose every step passed.
type SignIn struct {
	UserID   string
	AMR      []string // how the user authenticated
	ClientID string   // the app signed in to, when there is one
	// Current reports whether the sign-in may still complete for the user
	// as stored now (the password is the one it began with).
	Current func(storage.User) bool
}

// CompleteSignIn records a completed sign-in (the time of the last sign-in
// and the audit event, in one write) while the account may still sign in:
// ErrDisabled or ErrNotFound when it may not, ErrStale when Current says no,
// an *UnverifiedError when the address is not confirmed.
func (s *Service) CompleteSignIn(ctx context.Context, a Actor, in SignIn) (storage.User, error) {
	e := a.event("login_succeeded", in.UserID, map[string]string{"amr": strings.Join(in.AMR, " ")})
	e.ClientID = in.ClientID
	now := time.Now().UTC()
	var unverified storage.User
	u, err := s.c.Store.UpdateUser(ctx, in.UserID, storage.Effects{Audit: []storage.AuditEvent{e}}, func(u *storage.User) error {
		if u.Disabled {
			return ErrDisabled
		}
		if in.Current != nil && !in.Current(*u) {
			return ErrStale
		}
		if !u.EmailVerified {
			// The password step stops these; this holds for a sign-in
			// begun before that check existed.
			unverified = *u
			return errUnverified
		}
		u.LastLoginAt = now
		if a.Lang != "" {
			// The language of the emails no request of theirs causes.
			u.Locale = a.Lang
		}
		return nil
	})
	if errors.Is(err, errUnverified) {
		return storage.User{}, &UnverifiedError{User: unverified}
	}
	return u, err
}

var errUnverified = errors.New("accounts: email unverified")
