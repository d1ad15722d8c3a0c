package mfa

import (
	"context"
	"errors"
	"strings"

	"github.com/latch-idp/latch/storage"
)

// BackupCodeStore is the store method a second-factor check needs.
type BackupCodeStore interface {
	UseBackupCode(ctx context.Context, userID string, hash []byte) error
}

// Second-factor kinds CheckSecondFactor reports.
const (
	KindTOTP   = "totp"
	KindBackup = "backup"
)

// CheckSecondFactor accepts a TOTP code (once: replays fail) or an unused
// backup code (used up by this call). A backup code stored under an older
// system secret still works after LATCH_SECRET was rotated.
func (t *TOTP) CheckSecondFactor(ctx context.Context, store BackupCodeStore, u storage.User, code string) (ok bool, kind string, err error) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 64 {
		return false, "", nil
	}
	if LooksLikeTOTP(code) {
		ok, err := t.Validate(ctx, u, code)
		return ok, KindTOTP, err
	}
	for _, h := range t.box.HashAll(backupPurpose, []byte(NormalizeBackupCode(code))) {
		err := store.UseBackupCode(ctx, u.ID, h)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		return err == nil, KindBackup, err
	}
	return false, "", nil
}
