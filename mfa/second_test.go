package mfa_test

import (
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/memory"
)

func TestCheckSecondFactor(t *testing.T) {
	ctx := t.Context()
	rdb := testenv.Redis(t)
	oldBox, _ := secret.New([]byte("the old system secret, 32 bytes or more"))
	newBox, _ := secret.New([]byte("the new system secret, 32 bytes or more"), []byte("the old system secret, 32 bytes or more"))
	st := memory.New(memory.Options{})
	u, err := st.CreateUser(ctx, storage.User{Email: "a@example.com", PasswordHash: "x"}, storage.Effects{})
	if err != nil {
		t.Fatal(err)
	}
	codes, _ := mfa.GenerateBackupCodes(10)
	var hashes [][]byte
	for _, c := range codes {
		hashes = append(hashes, mfa.HashBackupCode(oldBox, c))
	}
	if err := st.ReplaceBackupCodes(ctx, u.ID, hashes, storage.Effects{}); err != nil {
		t.Fatal(err)
	}
	// The secret was rotated after the codes were made.
	tp := mfa.NewTOTP(rdb, newBox, "latch")
	enr, err := tp.Generate(u.Email)
	if err != nil {
		t.Fatal(err)
	}
	u, _ = st.UpdateUser(ctx, u.ID, storage.Effects{}, func(u *storage.User) error {
		u.TOTPSecret = tp.Seal(u.ID, enr.Secret)
		return nil
	})

	t.Run("case=a backup code made under the old secret works once", func(t *testing.T) {
		ok, kind, err := tp.CheckSecondFactor(ctx, st, u, codes[0])
		if err != nil || !ok || kind != mfa.KindBackup {
			t.Fatalf("got %v %q %v", ok, kind, err)
		}
		if ok, _, _ := tp.CheckSecondFactor(ctx, st, u, codes[0]); ok {
			t.Fatal("a backup code must work only once")
		}
	})
	t.Run("case=a TOTP code works once", func(t *testing.T) {
		code, _ := totp.GenerateCode(enr.Secret, time.Now())
		ok, kind, err := tp.CheckSecondFactor(ctx, st, u, code)
		if err != nil || !ok || kind != mfa.KindTOTP {
			t.Fatalf("got %v %q %v", ok, kind, err)
		}
		if ok, _, _ := tp.CheckSecondFactor(ctx, st, u, code); ok {
			t.Fatal("a replayed TOTP code must fail")
		}
	})
	t.Run("case=garbage is refused", func(t *testing.T) {
		for _, c := range []string{"", "nope-nope-nope", "1234567"} {
			if ok, _, err := tp.CheckSecondFactor(ctx, st, u, c); ok || err != nil {
				t.Errorf("%q: %v %v", c, ok, err)
			}
		}
	})
}
