package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ory/fosite"

	"github.com/latch-idp/latch/storage"
)

// Refresh tokens follow fosite's contract (handler/oauth2/flow_refresh.go):
// a rotated token is deactivated, not deleted, and presenting it again
// returns the request with fosite.ErrInactiveToken so that fosite can revoke
// the family. A token rotated less than the grace period ago is the
// exception: it is still honoured, for clients that lost the response.

const createRefreshSQL = `INSERT INTO refresh_tokens
	(signature, request_id, client_id, user_id, access_signature, created_at, expires_at, request)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// CreateRefreshTokenSession stores a new active refresh token of request's
// family. The user is the session's subject.
func (s *Store) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, req fosite.Requester) error {
	data, err := storage.MarshalRequest(req)
	if err != nil {
		return fmt.Errorf("postgres: create refresh token: %w", err)
	}
	subject, expires := storage.RefreshFacts(req)
	_, err = s.db(ctx).Exec(ctx, createRefreshSQL, signature, req.GetID(), req.GetClient().GetID(),
		nullString(subject), accessSignature, now(), nullTime(expires), data)
	if err != nil {
		return fmt.Errorf("postgres: create refresh token: %w", translateFosite(err))
	}
	return nil
}

// The grace test is done by the database clock, the one that set rotated_at,
// so that replicas with skewed clocks agree.
// $2 is the grace period in seconds.
// The grace check uses clock_timestamp(), not now(): now() is when the
// reading transaction began, which may be before a racing rotation stamped
// rotated_at, and would put that rotation "in the future" and so in grace.
const refreshStateColumns = `r.active,
	coalesce($2::float8 > 0 AND r.revoked_at IS NULL AND r.rotated_at > clock_timestamp() - make_interval(secs => $2::float8), false)`

const (
	getRefreshSessionSQL = `SELECT r.request, ` + refreshStateColumns + `, ` + clientColumnsOfC + `
		FROM refresh_tokens r JOIN clients c ON c.id = r.client_id
		WHERE r.signature = $1`
	// Inside a transaction the row is locked, so that two rotations of one
	// token racing in transactions serialize on it.
	getRefreshSessionForUpdateSQL = getRefreshSessionSQL + ` FOR UPDATE OF r`
	clientColumnsOfC              = `c.id, c.name, c.secret_hash, c.redirect_uris, c.grant_types, c.response_types, c.scopes,
		c.token_endpoint_auth_method, c.post_logout_redirect_uris, c.first_party, c.created_at, c.updated_at`
)

// GetRefreshTokenSession returns the request the token was issued for, its
// session decoded into session (a new *storage.Session when nil). For a
// rotated or revoked token it returns the request and
// fosite.ErrInactiveToken, unless the token was rotated (not revoked) within
// the grace period; fosite.ErrNotFound for an unknown token.
func (s *Store) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	query := getRefreshSessionSQL
	if _, inTx := ctx.Value(txKey{}).(pgx.Tx); inTx {
		query = getRefreshSessionForUpdateSQL
	}
	var (
		data            []byte
		active, inGrace bool
		c               storage.Client
	)
	err := s.db(ctx).QueryRow(ctx, query, signature, s.grace.Seconds()).Scan(&data, &active, &inGrace,
		&c.ID, &c.Name, &c.SecretHash, &c.RedirectURIs, &c.GrantTypes, &c.ResponseTypes, &c.Scopes,
		&c.TokenEndpointAuthMethod, &c.PostLogoutRedirectURIs, &c.FirstParty, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("postgres: get refresh token: %w", translateFosite(err))
	}
	req, err := storage.UnmarshalRequest(data, session, storage.FositeClient{Client: c})
	if err != nil {
		return nil, fmt.Errorf("postgres: get refresh token: %w", err)
	}
	if !active && !inGrace {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

const (
	deactivateRefreshSQL = `UPDATE refresh_tokens SET active = false, rotated_at = clock_timestamp()
		WHERE signature = $1 AND active
		RETURNING 1`
	refreshStateSQL = `SELECT ` + refreshStateColumns + ` FROM refresh_tokens r WHERE r.signature = $1`
)

// RotateRefreshToken deactivates the token being exchanged. The check and
// the change are one UPDATE: of two racing rotations, the second waits for
// the first's row lock, then finds the token inactive and gets
// fosite.ErrInactiveToken (or nothing to do, within the grace period).
// requestID is the family, which rotation leaves alone.
func (s *Store) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	q := s.db(ctx)
	var one int
	err := q.QueryRow(ctx, deactivateRefreshSQL, signature).Scan(&one)
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: rotate refresh token: %w", translateFosite(err))
	}
	var active, inGrace bool
	if err := q.QueryRow(ctx, refreshStateSQL, signature, s.grace.Seconds()).Scan(&active, &inGrace); err != nil {
		return fmt.Errorf("postgres: rotate refresh token: %w", translateFosite(err))
	}
	if inGrace {
		return nil
	}
	return fosite.ErrInactiveToken
}

const deleteRefreshSQL = `UPDATE refresh_tokens SET active = false WHERE signature = $1`

// DeleteRefreshTokenSession deactivates the token but keeps its row, so that
// a later use is still recognised as reuse.
func (s *Store) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	tag, err := s.db(ctx).Exec(ctx, deleteRefreshSQL, signature)
	if err != nil {
		return fmt.Errorf("postgres: delete refresh token: %w", translateFosite(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete refresh token: %w", fosite.ErrNotFound)
	}
	return nil
}

const revokeFamilySQL = `UPDATE refresh_tokens SET active = false, revoked_at = now()
	WHERE request_id = $1 AND revoked_at IS NULL`

// RevokeRefreshToken revokes every token of the family requestID: no token
// of it is honoured again, grace period or not. An unknown family is not an
// error (revocation is idempotent).
func (s *Store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if _, err := s.db(ctx).Exec(ctx, revokeFamilySQL, requestID); err != nil {
		return fmt.Errorf("postgres: revoke refresh family: %w", translateFosite(err))
	}
	return nil
}

// RevokeRefreshFamily is RevokeRefreshToken with effects, for latch's own
// callers.
func (s *Store) RevokeRefreshFamily(ctx context.Context, requestID string, fx storage.Effects) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, revokeFamilySQL, requestID); err != nil {
			return translate(err)
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

const getRefreshSQL = `SELECT signature, request_id, client_id, user_id, access_signature, active,
	rotated_at, revoked_at, created_at, expires_at, request
	FROM refresh_tokens WHERE signature = $1`

// GetRefreshToken returns the token's record, active or not.
func (s *Store) GetRefreshToken(ctx context.Context, signature string) (storage.RefreshToken, error) {
	var (
		t                         storage.RefreshToken
		userID                    *string
		rotated, revoked, expires *time.Time
	)
	err := s.db(ctx).QueryRow(ctx, getRefreshSQL, signature).Scan(&t.Signature, &t.RequestID, &t.ClientID, &userID,
		&t.AccessSignature, &t.Active, &rotated, &revoked, &t.CreatedAt, &expires, &t.Request)
	if err != nil {
		return storage.RefreshToken{}, fmt.Errorf("postgres: get refresh token: %w", translate(err))
	}
	t.UserID, t.RotatedAt, t.RevokedAt = fromNullString(userID), fromNullTime(rotated), fromNullTime(revoked)
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), fromNullTime(expires)
	return t, nil
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
