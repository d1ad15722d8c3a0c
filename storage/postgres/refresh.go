package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/storage"
)

// A rotated refresh token is deactivated, not deleted, so that presenting it
// again is still recognised as reuse. A token rotated less than the grace
// period ago is the exception: it is still honoured, for clients that lost
// the response. The grace period is the caller's policy; this file only
// measures it.

const createRefreshSQL = `INSERT INTO refresh_tokens
	(signature, request_id, client_id, user_id, access_signature, created_at, expires_at, request)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// CreateRefreshToken stores a new active refresh token.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	_, err := s.db(ctx).Exec(ctx, createRefreshSQL, t.Signature, t.RequestID, t.ClientID,
		nullString(t.UserID), t.AccessSignature, now(), nullTime(t.ExpiresAt.UTC()), t.Request)
	if err != nil {
		return fmt.Errorf("postgres: create refresh token: %w", translate(err))
	}
	return nil
}

// The grace test is done by the database clock, the one that set rotated_at,
// so that replicas with skewed clocks agree.
// $2 is the grace period in seconds.
// The grace check uses clock_timestamp(), not now(): now() is when the
// reading transaction began, which may be before a racing rotation stamped
// rotated_at, and would put that rotation "in the future" and so in grace.
const inGraceColumn = `coalesce($2::float8 > 0 AND r.revoked_at IS NULL AND r.rotated_at > clock_timestamp() - make_interval(secs => $2::float8), false)`

const (
	getRefreshSQL = `SELECT r.signature, r.request_id, r.client_id, r.user_id, r.access_signature, r.active,
		r.rotated_at, r.revoked_at, r.created_at, r.expires_at, r.request, ` + inGraceColumn + `
		FROM refresh_tokens r WHERE r.signature = $1`
	// Inside a transaction the row is locked, so that two rotations of one
	// token racing in transactions serialize on it.
	getRefreshForUpdateSQL = getRefreshSQL + ` FOR UPDATE OF r`
)

// GetRefreshToken returns the token with its state; inside a transaction
// it locks the row until the transaction ends.
func (s *Store) GetRefreshToken(ctx context.Context, signature string, grace time.Duration) (storage.RefreshToken, error) {
	query := getRefreshSQL
	if _, inTx := ctx.Value(txKey{}).(pgx.Tx); inTx {
		query = getRefreshForUpdateSQL
	}
	var (
		t                         storage.RefreshToken
		userID                    *string
		rotated, revoked, expires *time.Time
		inGrace                   bool
	)
	err := s.db(ctx).QueryRow(ctx, query, signature, grace.Seconds()).Scan(&t.Signature, &t.RequestID, &t.ClientID, &userID,
		&t.AccessSignature, &t.Active, &rotated, &revoked, &t.CreatedAt, &expires, &t.Request, &inGrace)
	if err != nil {
		return storage.RefreshToken{}, fmt.Errorf("postgres: get refresh token: %w", translate(err))
	}
	t.UserID, t.RotatedAt, t.RevokedAt = fromNullString(userID), fromNullTime(rotated), fromNullTime(revoked)
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), fromNullTime(expires)
	t.State = refreshState(t, inGrace)
	return t, nil
}

// refreshState names where a token stands; inGrace comes from the
// database clock.
func refreshState(t storage.RefreshToken, inGrace bool) storage.RefreshState {
	switch {
	case t.Active:
		return storage.RefreshActive
	case !t.RevokedAt.IsZero():
		return storage.RefreshRevoked
	case inGrace:
		return storage.RefreshInGrace
	case !t.RotatedAt.IsZero():
		return storage.RefreshRotated
	}
	return storage.RefreshInactive
}

const (
	deactivateRefreshSQL = `UPDATE refresh_tokens SET active = false, rotated_at = clock_timestamp()
		WHERE signature = $1 AND active
		RETURNING 1`
	refreshGraceSQL = `SELECT ` + inGraceColumn + ` FROM refresh_tokens r WHERE r.signature = $1`
)

// RotateRefreshToken deactivates the token being exchanged. The check and
// the change are one UPDATE: of two racing rotations, the second waits for
// the first's row lock, then finds the token inactive and gets
// storage.ErrInactive (or nothing to do, within the grace period).
func (s *Store) RotateRefreshToken(ctx context.Context, signature string, grace time.Duration) error {
	q := s.db(ctx)
	var one int
	err := q.QueryRow(ctx, deactivateRefreshSQL, signature).Scan(&one)
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: rotate refresh token: %w", translate(err))
	}
	var inGrace bool
	if err := q.QueryRow(ctx, refreshGraceSQL, signature, grace.Seconds()).Scan(&inGrace); err != nil {
		return fmt.Errorf("postgres: rotate refresh token: %w", translate(err))
	}
	if inGrace {
		return nil
	}
	return storage.ErrInactive
}

const deleteRefreshSQL = `UPDATE refresh_tokens SET active = false WHERE signature = $1`

// DeactivateRefreshToken deactivates the token but keeps its row, so that a
// later use is still recognised as reuse.
func (s *Store) DeactivateRefreshToken(ctx context.Context, signature string) error {
	tag, err := s.db(ctx).Exec(ctx, deleteRefreshSQL, signature)
	if err != nil {
		return fmt.Errorf("postgres: deactivate refresh token: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: deactivate refresh token: %w", storage.ErrNotFound)
	}
	return nil
}

const revokeFamilySQL = `UPDATE refresh_tokens SET active = false, revoked_at = now()
	WHERE request_id = $1 AND revoked_at IS NULL`

// RevokeRefreshFamily revokes every token of the family requestID, with
// fx: no token of it is honoured again, grace period or not. An unknown or
// already revoked family is not an error (revocation is idempotent), and
// writes no effects.
func (s *Store) RevokeRefreshFamily(ctx context.Context, requestID string, fx storage.Effects) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, revokeFamilySQL, requestID)
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 0 {
			return nil // revoked already: its effects were written then
		}
		return s.writeEffects(ctx, tx, fx)
	})
	if err != nil {
		return fmt.Errorf("postgres: revoke refresh family: %w", err)
	}
	return nil
}

const revokeUserRefreshSQL = `UPDATE refresh_tokens SET active = false, revoked_at = now()
	WHERE user_id = $1 AND revoked_at IS NULL
	RETURNING request_id`

// RevokeUserRefreshTokens revokes every refresh token of the user, with fx,
// and returns the families it revoked.
func (s *Store) RevokeUserRefreshTokens(ctx context.Context, userID string, fx storage.Effects) ([]string, error) {
	var ids []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if ids, err = collectRequestIDs(tx.Query(ctx, revokeUserRefreshSQL, userID)); err != nil {
			return err
		}
		return s.writeEffects(ctx, tx, withUser(fx, userID))
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: revoke user refresh tokens: %w", err)
	}
	return ids, nil
}

const deleteExpiredRefreshSQL = `DELETE FROM refresh_tokens WHERE expires_at < $1`

// DeleteExpiredRefreshTokens removes the tokens that expired before the
// given time; tokens without an expiry stay. Until then a rotated token is
// kept, so that its reuse is recognised.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.db(ctx).Exec(ctx, deleteExpiredRefreshSQL, before)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired refresh tokens: %w", translate(err))
	}
	return int(tag.RowsAffected()), nil
}
