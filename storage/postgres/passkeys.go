package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/storage"
)

const passkeyColumns = `id, user_id, name, public_key, aaguid, attestation_type, transports, sign_count,
	backup_eligible, backup_state, created_at, last_used_at`

func scanPasskey(row pgx.Row) (storage.Passkey, error) {
	var p storage.Passkey
	var count int64
	var used *time.Time
	err := row.Scan(&p.ID, &p.UserID, &p.Name, &p.PublicKey, &p.AAGUID, &p.AttestationType, &p.Transports, &count,
		&p.BackupEligible, &p.BackupState, &p.CreatedAt, &used)
	p.SignCount = uint32(count)
	p.CreatedAt = p.CreatedAt.UTC()
	if used != nil {
		p.LastUsedAt = used.UTC()
	}
	return p, err
}

const createPasskeySQL = `INSERT INTO passkeys (id, user_id, name, public_key, aaguid, attestation_type, transports,
	sign_count, backup_eligible, backup_state, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

// CreatePasskey stores p, atomically with fx.
func (s *Store) CreatePasskey(ctx context.Context, p storage.Passkey, fx storage.Effects) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, createPasskeySQL, p.ID, p.UserID, p.Name, p.PublicKey, bytesOrEmpty(p.AAGUID), p.AttestationType,
			nonNil(p.Transports), int64(p.SignCount), p.BackupEligible, p.BackupState, now()); err != nil {
			return translate(err)
		}
		return s.writeEffects(ctx, tx, withUser(fx, p.UserID))
	})
	if err != nil {
		return fmt.Errorf("postgres: create passkey: %w", err)
	}
	return nil
}

func bytesOrEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const getPasskeySQL = `SELECT ` + passkeyColumns + ` FROM passkeys WHERE id = $1`

// GetPasskey returns the passkey with this credential ID.
func (s *Store) GetPasskey(ctx context.Context, id []byte) (storage.Passkey, error) {
	p, err := scanPasskey(s.db(ctx).QueryRow(ctx, getPasskeySQL, id))
	if err != nil {
		return storage.Passkey{}, fmt.Errorf("postgres: get passkey: %w", translate(err))
	}
	return p, nil
}

const listPasskeysSQL = `SELECT ` + passkeyColumns + ` FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`

// ListPasskeys returns the user's passkeys, oldest first.
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error) {
	rows, err := s.db(ctx).Query(ctx, listPasskeysSQL, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list passkeys: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Passkey, error) { return scanPasskey(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list passkeys: %w", translate(err))
	}
	return out, nil
}

const renamePasskeySQL = `UPDATE passkeys SET name = $3 WHERE user_id = $1 AND id = $2`

// RenamePasskey renames the user's passkey, atomically with fx.
func (s *Store) RenamePasskey(ctx context.Context, userID string, id []byte, name string, fx storage.Effects) error {
	return s.changePasskey(ctx, "rename passkey", renamePasskeySQL, userID, fx, id, name)
}

const deletePasskeySQL = `DELETE FROM passkeys WHERE user_id = $1 AND id = $2`

// DeletePasskey deletes the user's passkey, atomically with fx.
func (s *Store) DeletePasskey(ctx context.Context, userID string, id []byte, fx storage.Effects) error {
	return s.changePasskey(ctx, "delete passkey", deletePasskeySQL, userID, fx, id)
}

// changePasskey runs query (whose first argument is the user ID) on one of
// the user's passkeys with fx: ErrNotFound, and no effects, when it
// matched none.
func (s *Store) changePasskey(ctx context.Context, op, query, userID string, fx storage.Effects, args ...any) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, append([]any{userID}, args...)...)
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		return s.writeEffects(ctx, tx, withUser(fx, userID))
	})
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return nil
}

const usePasskeySQL = `UPDATE passkeys SET sign_count = greatest(sign_count, $2), backup_state = $3, last_used_at = $4
	WHERE id = $1`

// UsePasskey records an assertion with the passkey; the counter never goes
// back.
func (s *Store) UsePasskey(ctx context.Context, id []byte, use storage.PasskeyUse) error {
	at := use.At
	if at.IsZero() {
		at = now()
	}
	tag, err := s.db(ctx).Exec(ctx, usePasskeySQL, id, int64(use.SignCount), use.BackupState, at.UTC())
	if err == nil && tag.RowsAffected() == 0 {
		err = storage.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: use passkey: %w", translate(err))
	}
	return nil
}

const (
	resetFactorsSQL = `UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, updated_at = $2
		WHERE id = $1 RETURNING ` + userColumns
	deleteUserPasskeysSQL = `DELETE FROM passkeys WHERE user_id = $1`
)

// ResetFactors turns off TOTP and deletes the backup codes and passkeys of
// the user, with fx, in one transaction.
func (s *Store) ResetFactors(ctx context.Context, userID string, fx storage.Effects) (storage.User, error) {
	var u storage.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if u, err = scanUser(tx.QueryRow(ctx, resetFactorsSQL, userID, now())); err != nil {
			return translate(err)
		}
		for _, q := range []string{deleteBackupCodesSQL, deleteUserPasskeysSQL} {
			if _, err := tx.Exec(ctx, q, userID); err != nil {
				return translate(err)
			}
		}
		return s.writeEffects(ctx, tx, withUser(fx, userID))
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("postgres: reset factors: %w", err)
	}
	return u, nil
}
