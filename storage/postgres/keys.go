package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/storage"
)

// signingKeyLockKey names the advisory lock under which replicas decide
// whether to rotate; fixed forever ("latch" in ASCII, then 2).
const signingKeyLockKey int64 = 0x6c61746368_0002

const insertSigningKeySQL = `INSERT INTO signing_keys (id, algorithm, private_key, public_key, created_at, active_at)
	VALUES ($1, $2, $3, $4, $5, $6)`

func insertSigningKey(ctx context.Context, q db, k storage.SigningKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	if k.ActiveAt.IsZero() {
		k.ActiveAt = k.CreatedAt
	}
	_, err := q.Exec(ctx, insertSigningKeySQL, k.ID, k.Algorithm, k.PrivateKey, k.PublicKey, k.CreatedAt, k.ActiveAt)
	return translate(err)
}

// CreateSigningKey stores k; its creation time defaults to now and its
// activation time to its creation time.
func (s *Store) CreateSigningKey(ctx context.Context, k storage.SigningKey) error {
	if err := insertSigningKey(ctx, s.db(ctx), k); err != nil {
		return fmt.Errorf("postgres: create signing key: %w", err)
	}
	return nil
}

const (
	signingKeyLockSQL  = `SELECT pg_advisory_xact_lock($1)`
	newerSigningKeySQL = `SELECT EXISTS (SELECT 1 FROM signing_keys WHERE created_at > $1)`
)

// CreateSigningKeyUnlessNewer stores k unless a key created after since
// exists. Replicas that decide to rotate at once queue on an advisory lock;
// each statement after it sees what the previous holder committed, so only
// the first creates a key.
func (s *Store) CreateSigningKeyUnlessNewer(ctx context.Context, k storage.SigningKey, since time.Time) (bool, error) {
	created := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, signingKeyLockSQL, signingKeyLockKey); err != nil {
			return translate(err)
		}
		var newer bool
		if err := tx.QueryRow(ctx, newerSigningKeySQL, since).Scan(&newer); err != nil {
			return translate(err)
		}
		if newer {
			return nil
		}
		if err := insertSigningKey(ctx, tx, k); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("postgres: create signing key: %w", err)
	}
	return created, nil
}

const listSigningKeysSQL = `SELECT id, algorithm, private_key, public_key, created_at, active_at
	FROM signing_keys ORDER BY created_at DESC, id DESC`

// ListSigningKeys returns every key, newest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	rows, err := s.db(ctx).Query(ctx, listSigningKeysSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: list signing keys: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.SigningKey, error) {
		var k storage.SigningKey
		err := r.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.PublicKey, &k.CreatedAt, &k.ActiveAt)
		k.CreatedAt, k.ActiveAt = k.CreatedAt.UTC(), k.ActiveAt.UTC()
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list signing keys: %w", translate(err))
	}
	return out, nil
}

const deleteSigningKeySQL = `DELETE FROM signing_keys WHERE id = $1`

// DeleteSigningKey deletes the key; storage.ErrNotFound when there is none.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	tag, err := s.db(ctx).Exec(ctx, deleteSigningKeySQL, id)
	if err != nil {
		return fmt.Errorf("postgres: delete signing key: %w", translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete signing key: %w", storage.ErrNotFound)
	}
	return nil
}
