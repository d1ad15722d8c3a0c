package memory

import (
	"context"
	"slices"
	"time"

	"github.com/latch-idp/latch/storage"
)

// Refresh tokens behave as in storage/postgres: a rotated token is
// deactivated, not deleted, and stays recognisable until it expires; one
// rotated (not revoked) within the grace period is still honoured.

// BeginTx returns ctx as is: every method is atomic under the store's lock.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) { return ctx, nil }

// Commit does nothing (see BeginTx).
func (s *Store) Commit(context.Context) error { return nil }

// Rollback does nothing (see BeginTx).
func (s *Store) Rollback(context.Context) error { return nil }

// CreateRefreshToken stores a new active refresh token.
func (s *Store) CreateRefreshToken(_ context.Context, t storage.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[t.ClientID]; !ok {
		return errorf("create refresh token", storage.ErrNotFound)
	}
	if _, ok := s.refresh[t.Signature]; ok {
		return errorf("create refresh token", storage.ErrAlreadyExists)
	}
	t.Active, t.RotatedAt, t.RevokedAt, t.State = true, time.Time{}, time.Time{}, 0
	t.CreatedAt = now()
	t.ExpiresAt = t.ExpiresAt.UTC().Truncate(time.Microsecond)
	t.Request = clone(t.Request)
	s.refresh[t.Signature] = t
	return nil
}

// inGrace reports whether t was rotated, not revoked, within grace. The
// caller holds mu.
func inGrace(t storage.RefreshToken, grace time.Duration) bool {
	return t.RevokedAt.IsZero() && !t.RotatedAt.IsZero() && time.Since(t.RotatedAt) < grace
}

// state names where t stands.
func state(t storage.RefreshToken, grace time.Duration) storage.RefreshState {
	switch {
	case t.Active:
		return storage.RefreshActive
	case !t.RevokedAt.IsZero():
		return storage.RefreshRevoked
	case inGrace(t, grace):
		return storage.RefreshInGrace
	case !t.RotatedAt.IsZero():
		return storage.RefreshRotated
	}
	return storage.RefreshInactive
}

// GetRefreshToken returns the token with its state.
func (s *Store) GetRefreshToken(_ context.Context, signature string, grace time.Duration) (storage.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[signature]
	if !ok {
		return storage.RefreshToken{}, errorf("get refresh token", storage.ErrNotFound)
	}
	t.State = state(t, grace)
	t.Request = clone(t.Request)
	return t, nil
}

// RotateRefreshToken deactivates the token being exchanged; rotating an
// inactive token is storage.ErrInactive, or nothing within the grace
// period.
func (s *Store) RotateRefreshToken(_ context.Context, signature string, grace time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[signature]
	switch {
	case !ok:
		return errorf("rotate refresh token", storage.ErrNotFound)
	case t.Active:
		t.Active, t.RotatedAt = false, now()
		s.refresh[signature] = t
		return nil
	case inGrace(t, grace):
		return nil
	default:
		return storage.ErrInactive
	}
}

// DeactivateRefreshToken deactivates the token but keeps it, so that a
// later use is still recognised as reuse.
func (s *Store) DeactivateRefreshToken(_ context.Context, signature string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[signature]
	if !ok {
		return errorf("deactivate refresh token", storage.ErrNotFound)
	}
	t.Active = false
	s.refresh[signature] = t
	return nil
}

// revokeWhere revokes the not yet revoked tokens that match and returns
// their families, sorted. The caller holds mu.
func (s *Store) revokeWhere(match func(storage.RefreshToken) bool) []string {
	var ids []string
	t0 := now()
	for sig, t := range s.refresh {
		if !t.RevokedAt.IsZero() || !match(t) {
			continue
		}
		t.Active, t.RevokedAt = false, t0
		s.refresh[sig] = t
		ids = append(ids, t.RequestID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// RevokeRefreshFamily revokes every token of the family requestID, with
// fx. An unknown family is not an error.
func (s *Store) RevokeRefreshFamily(_ context.Context, requestID string, fx storage.Effects) error {
	if err := validateEffects(fx); err != nil {
		return errorf("revoke refresh family", err)
	}
	s.mu.Lock()
	var mail []storage.MailJob
	if ids := s.revokeWhere(func(t storage.RefreshToken) bool { return t.RequestID == requestID }); len(ids) > 0 {
		mail = s.applyEffects(fx)
	}
	s.mu.Unlock()
	s.deliver(mail)
	return nil
}

// RevokeUserRefreshTokens revokes every refresh token of the user, with fx,
// and returns the families it revoked.
func (s *Store) RevokeUserRefreshTokens(_ context.Context, userID string, fx storage.Effects) ([]string, error) {
	if err := validateEffects(fx); err != nil {
		return nil, errorf("revoke user refresh tokens", err)
	}
	s.mu.Lock()
	ids := s.revokeWhere(func(t storage.RefreshToken) bool { return userID != "" && t.UserID == userID })
	mail := s.applyEffects(withUser(fx, userID))
	s.mu.Unlock()
	s.deliver(mail)
	return ids, nil
}

// DeleteExpiredRefreshTokens removes the tokens that expired before the
// given time; tokens without an expiry stay.
func (s *Store) DeleteExpiredRefreshTokens(_ context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sig, t := range s.refresh {
		if !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(before) {
			delete(s.refresh, sig)
			n++
		}
	}
	return n, nil
}
