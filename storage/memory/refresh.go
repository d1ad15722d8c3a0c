package memory

import (
	"context"
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/storage"
)

// Refresh tokens follow fosite's contract, as storage/postgres does: a
// rotated token is deactivated, not deleted, and presenting it again returns
// the request with fosite.ErrInactiveToken, unless it was rotated (not
// revoked) within the grace period. The store is not
// fosite/storage.Transactional: RotateRefreshToken is a check-and-set under
// the lock, so of two racing rotations exactly one wins.

// CreateRefreshTokenSession stores a new active refresh token of request's
// family. The user is the session's subject.
func (s *Store) CreateRefreshTokenSession(_ context.Context, signature, accessSignature string, req fosite.Requester) error {
	data, err := storage.MarshalRequest(req)
	if err != nil {
		return errorf("create refresh token", err)
	}
	subject, expires := storage.RefreshFacts(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[req.GetClient().GetID()]; !ok {
		return errorf("create refresh token", fosite.ErrNotFound)
	}
	if _, ok := s.refresh[signature]; ok {
		return errorf("create refresh token", storage.ErrAlreadyExists)
	}
	s.refresh[signature] = storage.RefreshToken{
		Signature:       signature,
		RequestID:       req.GetID(),
		ClientID:        req.GetClient().GetID(),
		UserID:          subject,
		AccessSignature: accessSignature,
		Active:          true,
		CreatedAt:       now(),
		ExpiresAt:       expires.Truncate(time.Microsecond),
		Request:         data,
	}
	return nil
}

// inGrace reports whether t was rotated, not revoked, within the grace
// period. The caller holds mu.
func (s *Store) inGrace(t storage.RefreshToken) bool {
	return t.RevokedAt.IsZero() && !t.RotatedAt.IsZero() && time.Since(t.RotatedAt) < s.grace
}

// GetRefreshTokenSession returns the request the token was issued for, its
// session decoded into session (a new *storage.Session when nil). For a
// rotated or revoked token it returns the request and
// fosite.ErrInactiveToken, unless the token was rotated (not revoked) within
// the grace period; fosite.ErrNotFound for an unknown token.
func (s *Store) GetRefreshTokenSession(_ context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	s.mu.Lock()
	t, ok := s.refresh[signature]
	var client storage.Client
	if ok {
		client = copyClient(s.clients[t.ClientID])
	}
	grace := ok && s.inGrace(t)
	s.mu.Unlock()
	if !ok {
		return nil, errorf("get refresh token", fosite.ErrNotFound)
	}
	req, err := storage.UnmarshalRequest(t.Request, session, storage.FositeClient{Client: client})
	if err != nil {
		return nil, errorf("get refresh token", err)
	}
	if !t.Active && !grace {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// RotateRefreshToken deactivates the token being exchanged; rotating an
// inactive token is fosite.ErrInactiveToken, or nothing within the grace
// period.
func (s *Store) RotateRefreshToken(_ context.Context, _ string, signature string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[signature]
	switch {
	case !ok:
		return errorf("rotate refresh token", fosite.ErrNotFound)
	case t.Active:
		t.Active, t.RotatedAt = false, now()
		s.refresh[signature] = t
		return nil
	case s.inGrace(t):
		return nil
	default:
		return fosite.ErrInactiveToken
	}
}

// DeleteRefreshTokenSession deactivates the token but keeps it, so that a
// later use is still recognised as reuse.
func (s *Store) DeleteRefreshTokenSession(_ context.Context, signature string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[signature]
	if !ok {
		return errorf("delete refresh token", fosite.ErrNotFound)
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

// RevokeRefreshToken revokes every token of the family requestID. An
// unknown family is not an error.
func (s *Store) RevokeRefreshToken(_ context.Context, requestID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeWhere(func(t storage.RefreshToken) bool { return t.RequestID == requestID })
	return nil
}

// RevokeRefreshFamily is RevokeRefreshToken with effects.
func (s *Store) RevokeRefreshFamily(_ context.Context, requestID string, fx storage.Effects) error {
	if err := validateEffects(fx); err != nil {
		return errorf("revoke refresh family", err)
	}
	s.mu.Lock()
	s.revokeWhere(func(t storage.RefreshToken) bool { return t.RequestID == requestID })
	mail := s.applyEffects(fx)
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

// GetRefreshToken returns the token's record, active or not.
func (s *Store) GetRefreshToken(_ context.Context, signature string) (storage.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[signature]
	if !ok {
		return storage.RefreshToken{}, errorf("get refresh token", storage.ErrNotFound)
	}
	t.Request = clone(t.Request)
	return t, nil
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
