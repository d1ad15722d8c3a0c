package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/storage"
)

const consentColumns = `user_id, client_id, scopes, created_at, updated_at`

func scanConsent(row pgx.Row) (storage.Consent, error) {
	var c storage.Consent
	err := row.Scan(&c.UserID, &c.ClientID, &c.Scopes, &c.CreatedAt, &c.UpdatedAt)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

const getConsentSQL = `SELECT ` + consentColumns + ` FROM consents WHERE user_id = $1 AND client_id = $2`

// GetConsent returns the user's consent for the client; storage.ErrNotFound
// when there is none.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	c, err := scanConsent(s.db(ctx).QueryRow(ctx, getConsentSQL, userID, clientID))
	if err != nil {
		return storage.Consent{}, fmt.Errorf("postgres: get consent: %w", translate(err))
	}
	return c, nil
}

const saveConsentSQL = `INSERT INTO consents (` + consentColumns + `) VALUES ($1, $2, $3, $4, $4)
	ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at`

// SaveConsent stores the consent, replacing the scopes of an earlier one.
// storage.ErrNotFound when the user or the client does not exist.
func (s *Store) SaveConsent(ctx context.Context, c storage.Consent) error {
	if _, err := s.db(ctx).Exec(ctx, saveConsentSQL, c.UserID, c.ClientID, nonNil(c.Scopes), now()); err != nil {
		return fmt.Errorf("postgres: save consent: %w", translate(err))
	}
	return nil
}

// COLLATE "C" orders by bytes, as the memory backend does.
const listConsentsSQL = `SELECT ` + consentColumns + ` FROM consents WHERE user_id = $1 ORDER BY client_id COLLATE "C"`

// ListConsents returns the user's consents, ordered by client ID.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]storage.Consent, error) {
	rows, err := s.db(ctx).Query(ctx, listConsentsSQL, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list consents: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Consent, error) { return scanConsent(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list consents: %w", translate(err))
	}
	return out, nil
}

const (
	deleteConsentSQL           = `DELETE FROM consents WHERE user_id = $1 AND client_id = $2`
	revokeUserClientRefreshSQL = `UPDATE refresh_tokens SET active = false, revoked_at = now()
		WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL
		RETURNING request_id`
)

// DeleteConsent deletes the consent and revokes the user's refresh tokens
// for the client, in one transaction, and returns the revoked families (the
// caller revokes their access tokens). It reports storage.ErrNotFound only
// when there was neither a consent nor a token to revoke: a first-party
// client has tokens without a consent, and withdrawing its access must work.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) ([]string, error) {
	var ids []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteConsentSQL, userID, clientID)
		if err != nil {
			return translate(err)
		}
		ids, err = collectRequestIDs(tx.Query(ctx, revokeUserClientRefreshSQL, userID, clientID))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 && len(ids) == 0 {
			return storage.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: delete consent: %w", err)
	}
	return ids, nil
}

// collectRequestIDs reads a column of request IDs into a sorted set.
func collectRequestIDs(rows pgx.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, translate(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, translate(err)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}
