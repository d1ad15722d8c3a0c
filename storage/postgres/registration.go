package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/storage"
)

const iatColumns = `id, hash, max_uses, uses, created_at, expires_at`

func scanIAT(row pgx.Row) (storage.InitialAccessToken, error) {
	var t storage.InitialAccessToken
	err := row.Scan(&t.ID, &t.Hash, &t.MaxUses, &t.Uses, &t.CreatedAt, &t.ExpiresAt)
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	return t, err
}

const createIATSQL = `INSERT INTO initial_access_tokens (id, hash, max_uses, created_at, expires_at)
	VALUES ($1, $2, $3, $4, $5)`

// CreateInitialAccessToken stores t, atomically with fx.
func (s *Store) CreateInitialAccessToken(ctx context.Context, t storage.InitialAccessToken, fx storage.Effects) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, createIATSQL, t.ID, t.Hash, t.MaxUses, now(), t.ExpiresAt); err != nil {
			return translate(err)
		}
		return s.writeEffects(ctx, tx, fx)
	})
	if err != nil {
		return fmt.Errorf("postgres: create initial access token: %w", err)
	}
	return nil
}

const listIATSQL = `SELECT ` + iatColumns + ` FROM initial_access_tokens ORDER BY created_at, id`

// ListInitialAccessTokens returns every token, oldest first.
func (s *Store) ListInitialAccessTokens(ctx context.Context) ([]storage.InitialAccessToken, error) {
	rows, err := s.db(ctx).Query(ctx, listIATSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: list initial access tokens: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.InitialAccessToken, error) { return scanIAT(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list initial access tokens: %w", translate(err))
	}
	return out, nil
}

const deleteIATSQL = `DELETE FROM initial_access_tokens WHERE id = $1`

// DeleteInitialAccessToken deletes the token, atomically with fx.
func (s *Store) DeleteInitialAccessToken(ctx context.Context, id string, fx storage.Effects) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteIATSQL, id)
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		return s.writeEffects(ctx, tx, fx)
	})
	if err != nil {
		return fmt.Errorf("postgres: delete initial access token: %w", err)
	}
	return nil
}

// One statement checks and counts, so racing uses take turns on the row.
const useIATSQL = `UPDATE initial_access_tokens SET uses = uses + 1
	WHERE hash = $1 AND expires_at > now() AND (max_uses = 0 OR uses < max_uses)
	RETURNING ` + iatColumns

// UseInitialAccessToken counts one use of a live token.
func (s *Store) UseInitialAccessToken(ctx context.Context, hash []byte) (storage.InitialAccessToken, error) {
	t, err := scanIAT(s.db(ctx).QueryRow(ctx, useIATSQL, hash))
	if err != nil {
		return storage.InitialAccessToken{}, fmt.Errorf("postgres: use initial access token: %w", translate(err))
	}
	return t, nil
}
