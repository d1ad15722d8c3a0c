package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/storage"
)

// Second factors. Proving the factor (a current code, under the attempt
// limits) is the caller's step; these rules change what a user has, each
// in one write with its audit event and notice mail.

// BackupCodeCount is how many backup codes a user gets.
const BackupCodeCount = 10

// ErrFactorExists is returned when TOTP is turned on while it is on
// already (another request enrolled first; its backup codes stand).
var ErrFactorExists = errors.New("accounts: second factor already set up")

// newBackupCodes returns a fresh set of backup codes, to show once, and
// the hashes to store.
func (s *Service) newBackupCodes() (codes []string, hashes [][]byte, err error) {
	if err := s.needBox(); err != nil {
		return nil, nil, err
	}
	codes, err = mfa.GenerateBackupCodes(BackupCodeCount)
	if err != nil {
		return nil, nil, err
	}
	hashes = make([][]byte, len(codes))
	for i, c := range codes {
		hashes[i] = mfa.HashBackupCode(s.c.Box, c)
	}
	return codes, hashes, nil
}

// EnableTOTP turns on TOTP for u with sealedSecret, whose code the caller
// has checked. A fresh set of backup codes comes with it, in the same
// write, so that losing the phone never locks the user out; they are
// returned to be shown once. ErrFactorExists when TOTP is on already.
func (s *Service) EnableTOTP(ctx context.Context, a Actor, u storage.User, sealedSecret []byte) ([]string, error) {
	codes, hashes, err := s.newBackupCodes()
	if err != nil {
		return nil, err
	}
	fx := storage.Effects{
		Audit: []storage.AuditEvent{a.event("totp_enabled", u.ID, nil)},
		Mail:  []storage.MailJob{a.notice(u, "totp_enabled")},
	}
	if _, err := s.c.Store.SetTOTP(ctx, u.ID, sealedSecret, hashes, fx); errors.Is(err, storage.ErrAlreadyExists) {
		return nil, ErrFactorExists
	} else if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP turns off u's TOTP, whose code (or a backup code) the caller
// has checked. The secret and the backup codes go in one write: a failure
// half-way must not leave codes that outlive the factor they stand in for.
func (s *Service) DisableTOTP(ctx context.Context, a Actor, u storage.User) error {
	return s.disableTOTP(ctx, a, u, nil)
}

func (s *Service) disableTOTP(ctx context.Context, a Actor, u storage.User, detail map[string]string) error {
	fx := storage.Effects{
		Audit: []storage.AuditEvent{a.event("totp_disabled", u.ID, detail)},
		Mail:  []storage.MailJob{a.notice(u, "totp_disabled")},
	}
	_, err := s.c.Store.SetTOTP(ctx, u.ID, nil, nil, fx)
	return err
}

// RegenerateBackupCodes replaces u's backup codes and returns the new
// ones, to show once. The caller has checked a current TOTP code, not a
// backup code: a session cookie alone must not mint a second factor, and
// one leaked backup code must not turn into ten fresh ones.
func (s *Service) RegenerateBackupCodes(ctx context.Context, a Actor, u storage.User) ([]string, error) {
	codes, hashes, err := s.newBackupCodes()
	if err != nil {
		return nil, err
	}
	fx := storage.Effects{
		Audit: []storage.AuditEvent{a.event("backup_codes_regenerated", u.ID, nil)},
		Mail:  []storage.MailJob{a.notice(u, "backup_codes_regenerated")},
	}
	if err := s.c.Store.ReplaceBackupCodes(ctx, u.ID, hashes, fx); err != nil {
		return nil, err
	}
	return codes, nil
}

// FactorRecoveryWindow is how recently a second factor must have been
// added for a password reset to offer its removal. A reset proves only the
// mailbox: a factor someone else bound shortly before (with the password,
// or a session left open) must not lock the owner out, while a factor the
// owner has had for longer keeps protecting the account from whoever can
// read its mail.
const FactorRecoveryWindow = 7 * 24 * time.Hour

// RecentTOTP reports whether u's TOTP was turned on within
// FactorRecoveryWindow before now.
func RecentTOTP(u storage.User, now time.Time) bool {
	return u.TOTPEnabled() && now.Sub(u.TOTPEnabledAt) < FactorRecoveryWindow
}

// RemoveRecentTOTP turns off the TOTP that was turned on for the user at
// enabledAt, after a password reset offered its removal: only that one,
// and only while it is recent (RecentTOTP). Anything else is left alone
// and is no error (removed is false): the page's offer is out of date.
func (s *Service) RemoveRecentTOTP(ctx context.Context, a Actor, userID string, enabledAt time.Time) (removed bool, err error) {
	u, err := s.c.Store.GetUser(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if !RecentTOTP(u, time.Now()) || !u.TOTPEnabledAt.Equal(enabledAt) {
		return false, nil
	}
	return true, s.disableTOTP(ctx, a, u, map[string]string{"via": "password_reset"})
}
