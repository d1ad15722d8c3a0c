package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/storage"
)

const userColumns = `id, email, name, role, password_hash, password_must_change, disabled,
	email_verified, totp_secret, totp_enabled_at, created_at, updated_at, last_login_at, locale`

func scanUser(row pgx.Row) (storage.User, error) {
	var (
		u         storage.User
		lastLogin *time.Time
		totpAt    *time.Time
	)
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.PasswordMustChange, &u.Disabled,
		&u.EmailVerified, &u.TOTPSecret, &totpAt, &u.CreatedAt, &u.UpdatedAt, &lastLogin, &u.Locale)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC(), fromNullTime(lastLogin)
	u.TOTPEnabledAt = fromNullTime(totpAt)
	return u, err
}

const createUserSQL = `INSERT INTO users (` + userColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`

// CreateUser inserts u with a new ID and timestamps (role "user" when
// empty), atomically with fx; audit events without a user get the new ID.
// storage.ErrAlreadyExists when the email is taken, in any letter case.
func (s *Store) CreateUser(ctx context.Context, u storage.User, fx storage.Effects) (storage.User, error) {
	u.ID = uuid.NewString()
	u.CreatedAt = now()
	u.UpdatedAt = u.CreatedAt
	u.SettleTOTP(u.CreatedAt)
	u.TOTPEnabledAt = u.TOTPEnabledAt.UTC().Truncate(time.Microsecond)
	if u.Role == "" {
		u.Role = storage.RoleUser
	}
	fx = withUser(fx, u.ID)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, createUserSQL, u.ID, u.Email, u.Name, u.Role, u.PasswordHash, u.PasswordMustChange,
			u.Disabled, u.EmailVerified, u.TOTPSecret, nullTime(u.TOTPEnabledAt), u.CreatedAt, u.UpdatedAt, nullTime(u.LastLoginAt), u.Locale)
		if err != nil {
			return translate(err)
		}
		return s.writeEffects(ctx, tx, fx)
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("postgres: create user: %w", err)
	}
	return u, nil
}

// withUser returns fx with userID on the audit events that name no user:
// the methods about one user record their events as that user's.
func withUser(fx storage.Effects, userID string) storage.Effects {
	audit := make([]storage.AuditEvent, len(fx.Audit))
	for i, e := range fx.Audit {
		if e.UserID == "" {
			e.UserID = userID
		}
		audit[i] = e
	}
	fx.Audit = audit
	return fx
}

const getUserSQL = `SELECT ` + userColumns + ` FROM users WHERE id = $1`

// GetUser returns the user; storage.ErrNotFound when there is none.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	u, err := scanUser(s.db(ctx).QueryRow(ctx, getUserSQL, id))
	if err != nil {
		return storage.User{}, fmt.Errorf("postgres: get user: %w", translate(err))
	}
	return u, nil
}

// The predicate matches the expression of users_email_lower_key, so the
// lookup uses that index.
const getUserByEmailSQL = `SELECT ` + userColumns + ` FROM users WHERE lower(email) = lower($1)`

// GetUserByEmail finds the user by email, ignoring letter case.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	u, err := scanUser(s.db(ctx).QueryRow(ctx, getUserByEmailSQL, email))
	if err != nil {
		return storage.User{}, fmt.Errorf("postgres: get user by email: %w", translate(err))
	}
	return u, nil
}

const listUsersSQL = `SELECT ` + userColumns + ` FROM users ORDER BY created_at, id`

// ListUsers returns every user, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	rows, err := s.db(ctx).Query(ctx, listUsersSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", translate(err))
	}
	return out, nil
}

const (
	lockUserSQL   = `SELECT ` + userColumns + ` FROM users WHERE id = $1 FOR UPDATE`
	updateUserSQL = `UPDATE users SET email = $2, name = $3, role = $4, password_hash = $5,
		password_must_change = $6, disabled = $7, email_verified = $8, totp_secret = $9,
		updated_at = $10, last_login_at = $11, totp_enabled_at = $12, locale = $13
		WHERE id = $1`
)

// UpdateUser locks the user's row, applies mutate and saves the result with
// fx, in one transaction: two concurrent updates apply one after the other,
// each to the other's result. mutate cannot change the ID or creation time.
func (s *Store) UpdateUser(ctx context.Context, id string, fx storage.Effects, mutate func(*storage.User) error) (storage.User, error) {
	var u storage.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, lockUserSQL, id))
		if err != nil {
			return fmt.Errorf("postgres: update user: %w", translate(err))
		}
		created := u.CreatedAt
		if err := mutate(&u); err != nil {
			return err // as is: the caller's own error
		}
		u.ID, u.CreatedAt, u.UpdatedAt = id, created, now()
		u.SettleTOTP(u.UpdatedAt)
		_, err = tx.Exec(ctx, updateUserSQL, u.ID, u.Email, u.Name, u.Role, u.PasswordHash, u.PasswordMustChange,
			u.Disabled, u.EmailVerified, u.TOTPSecret, u.UpdatedAt, nullTime(u.LastLoginAt), nullTime(u.TOTPEnabledAt), u.Locale)
		if err != nil {
			return fmt.Errorf("postgres: update user: %w", translate(err))
		}
		if err := s.writeEffects(ctx, tx, withUser(fx, id)); err != nil {
			return fmt.Errorf("postgres: update user: %w", err)
		}
		return nil
	})
	if err != nil {
		return storage.User{}, err
	}
	// Return what is stored: PostgreSQL keeps microseconds.
	u.LastLoginAt = u.LastLoginAt.UTC().Truncate(time.Microsecond)
	u.TOTPEnabledAt = u.TOTPEnabledAt.UTC().Truncate(time.Microsecond)
	return u, nil
}

const (
	deleteUserSQL              = `DELETE FROM users WHERE id = $1`
	deleteUserRefreshTokensSQL = `DELETE FROM refresh_tokens WHERE user_id = $1`
)

// DeleteUser deletes the user with fx in one transaction; backup codes,
// passkeys and consents go with the row (ON DELETE CASCADE), refresh
// tokens (no foreign key) explicitly.
func (s *Store) DeleteUser(ctx context.Context, id string, fx storage.Effects) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteUserSQL, id)
		if err != nil {
			return translate(err)
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		if _, err := tx.Exec(ctx, deleteUserRefreshTokensSQL, id); err != nil {
			return translate(err)
		}
		return s.writeEffects(ctx, tx, withUser(fx, id))
	})
	if err != nil {
		return fmt.Errorf("postgres: delete user: %w", err)
	}
	return nil
}

const (
	userExistsSQL        = `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`
	deleteBackupCodesSQL = `DELETE FROM backup_codes WHERE user_id = $1`
	insertBackupCodeSQL  = `INSERT INTO backup_codes (user_id, hash, created_at) VALUES ($1, $2, $3)`
)

// ReplaceBackupCodes replaces every backup code of the user, atomically
// with fx. storage.ErrNotFound when the user does not exist.
func (s *Store) ReplaceBackupCodes(ctx context.Context, userID string, hashes [][]byte, fx storage.Effects) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, userExistsSQL, userID).Scan(&exists); err != nil {
			return translate(err)
		}
		if !exists {
			return storage.ErrNotFound
		}
		if _, err := tx.Exec(ctx, deleteBackupCodesSQL, userID); err != nil {
			return translate(err)
		}
		t := now()
		for _, h := range hashes {
			if _, err := tx.Exec(ctx, insertBackupCodeSQL, userID, h, t); err != nil {
				return translate(err)
			}
		}
		return s.writeEffects(ctx, tx, withUser(fx, userID))
	})
	if err != nil {
		return fmt.Errorf("postgres: replace backup codes: %w", err)
	}
	return nil
}

const (
	lockTOTPSQL = `SELECT totp_secret FROM users WHERE id = $1 FOR UPDATE`
	setTOTPSQL  = `UPDATE users SET totp_secret = $2, updated_at = $3::timestamptz,
		totp_enabled_at = CASE WHEN $2::bytea IS NULL THEN NULL ELSE $3 END
		WHERE id = $1 RETURNING ` + userColumns
)

// SetTOTP stores the sealed secret (nil clears it) and replaces the user's
// backup codes, with fx, in one transaction. The user's row is locked
// first, so of two racing enrollments the second finds the first's secret.
func (s *Store) SetTOTP(ctx context.Context, userID string, secret []byte, backupHashes [][]byte, fx storage.Effects) (storage.User, error) {
	if len(secret) == 0 {
		if len(backupHashes) > 0 {
			return storage.User{}, fmt.Errorf("postgres: set TOTP: backup codes without a TOTP secret")
		}
		secret = nil // NULL, never an empty bytea
	}
	var u storage.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var current []byte
		if err := tx.QueryRow(ctx, lockTOTPSQL, userID).Scan(&current); err != nil {
			return translate(err)
		}
		if secret != nil && len(current) > 0 {
			return storage.ErrAlreadyExists
		}
		var err error
		if u, err = scanUser(tx.QueryRow(ctx, setTOTPSQL, userID, secret, now())); err != nil {
			return translate(err)
		}
		if _, err := tx.Exec(ctx, deleteBackupCodesSQL, userID); err != nil {
			return translate(err)
		}
		t := now()
		for _, h := range backupHashes {
			if _, err := tx.Exec(ctx, insertBackupCodeSQL, userID, h, t); err != nil {
				return translate(err)
			}
		}
		return s.writeEffects(ctx, tx, withUser(fx, userID))
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("postgres: set TOTP: %w", err)
	}
	return u, nil
}

// One statement both checks and marks: of two racing uses of a code, the
// second finds used_at set once the first commits and matches no row.
const useBackupCodeSQL = `UPDATE backup_codes SET used_at = now()
	WHERE user_id = $1 AND hash = $2 AND used_at IS NULL
	RETURNING 1`

// UseBackupCode marks the unused code with this hash used;
// storage.ErrNotFound when there is none.
func (s *Store) UseBackupCode(ctx context.Context, userID string, hash []byte) error {
	var one int
	if err := s.db(ctx).QueryRow(ctx, useBackupCodeSQL, userID, hash).Scan(&one); err != nil {
		return fmt.Errorf("postgres: use backup code: %w", translate(err))
	}
	return nil
}

const countBackupCodesSQL = `SELECT count(*) FROM backup_codes WHERE user_id = $1 AND used_at IS NULL`

// CountBackupCodes counts the user's unused backup codes.
func (s *Store) CountBackupCodes(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.db(ctx).QueryRow(ctx, countBackupCodesSQL, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count backup codes: %w", translate(err))
	}
	return n, nil
}
