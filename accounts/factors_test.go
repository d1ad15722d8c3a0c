package accounts_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/latch-idp/latch/accounts"
)

func TestSecondFactor(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	u := e.user(t, "ada@example.com", "a long passphrase here")
	a := accounts.Actor{IP: "192.0.2.7"}
	codes, err := e.svc.EnableTOTP(ctx, a, u, []byte("sealed secret"))
	if err != nil || len(codes) != accounts.BackupCodeCount {
		t.Fatalf("EnableTOTP = %d codes, %v", len(codes), err)
	}
	if n, _ := e.store.CountBackupCodes(ctx, u.ID); n != accounts.BackupCodeCount {
		t.Errorf("%d backup codes stored, want %d", n, accounts.BackupCodeCount)
	}
	t.Run("case=a second enrolment loses and keeps the first one's codes", func(t *testing.T) {
		if _, err := e.svc.EnableTOTP(ctx, a, u, []byte("another secret")); !errors.Is(err, accounts.ErrFactorExists) {
			t.Fatalf("EnableTOTP again = %v, want ErrFactorExists", err)
		}
	})
	t.Run("case=new backup codes replace the old ones", func(t *testing.T) {
		fresh, err := e.svc.RegenerateBackupCodes(ctx, a, u)
		if err != nil || len(fresh) != accounts.BackupCodeCount || slices.Equal(fresh, codes) {
			t.Fatalf("RegenerateBackupCodes = %v, %v", fresh, err)
		}
	})
	t.Run("case=turning TOTP off removes the codes with it", func(t *testing.T) {
		if err := e.svc.DisableTOTP(ctx, a, u); err != nil {
			t.Fatal(err)
		}
		got, _ := e.store.GetUser(ctx, u.ID)
		if n, _ := e.store.CountBackupCodes(ctx, u.ID); got.TOTPEnabled() || n != 0 {
			t.Errorf("after DisableTOTP: enabled %v, %d codes", got.TOTPEnabled(), n)
		}
	})
	want := []string{"totp_enabled", "backup_codes_regenerated", "totp_disabled"}
	if got := kinds(e.audit(t, u.ID)); !slices.Equal(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
	var notices []string
	for _, m := range e.sent() {
		if m.To == u.Email && m.Data["ip"] == "192.0.2.7" {
			notices = append(notices, m.Template)
		}
	}
	if !slices.Equal(notices, want) {
		t.Errorf("notices = %v, want %v", notices, want)
	}
}
