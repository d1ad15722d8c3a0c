package storagetest

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
)

func passkey(userID, id string) storage.Passkey {
	return storage.Passkey{
		ID: []byte("cred-" + id), UserID: userID, Name: "Key " + id, PublicKey: []byte("cose-" + id),
		AAGUID: bytes.Repeat([]byte{7}, 16), AttestationType: "none", Transports: []string{"usb", "nfc"},
		SignCount: 5, BackupEligible: true, BackupState: false,
	}
}

func passkeyNames(t *testing.T, s Backend, userID string) []string {
	t.Helper()
	ps, err := s.ListPasskeys(t.Context(), userID)
	noErr(t, "ListPasskeys", err)
	names := []string{}
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return names
}

func passkeyCases() []testCase {
	return []testCase{
		{name: "passkey round-trips with its effects", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			want := passkey(u.ID, "1")
			noErr(t, "CreatePasskey", s.CreatePasskey(t.Context(), want, effects("passkey_added", "a@example.com")))
			got, err := s.GetPasskey(t.Context(), want.ID)
			noErr(t, "GetPasskey", err)
			recent(t, "CreatedAt", got.CreatedAt)
			if !got.LastUsedAt.IsZero() {
				t.Errorf("LastUsedAt = %v before any use", got.LastUsedAt)
			}
			want.CreatedAt = got.CreatedAt
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("GetPasskey = %+v, want %+v", got, want)
			}
			if a := audit(t, s, u.ID); len(a) != 1 || a[0].Kind != "passkey_added" || a[0].UserID != u.ID {
				t.Errorf("audit = %+v, want passkey_added for the user", a)
			}
			if m := outbox(t, s); len(m) != 1 {
				t.Errorf("mail = %+v, want one", m)
			}
			wantErr(t, "GetPasskey(unknown)", func() error { _, err := s.GetPasskey(t.Context(), []byte("nope")); return err }(), storage.ErrNotFound)
		}},
		{name: "passkey IDs are unique across users and need a user", run: func(t *testing.T, s Backend) {
			a, b := mustUser(t, s, "a@example.com"), mustUser(t, s, "b@example.com")
			noErr(t, "CreatePasskey", s.CreatePasskey(t.Context(), passkey(a.ID, "1"), storage.Effects{}))
			wantErr(t, "same ID, other user", s.CreatePasskey(t.Context(), passkey(b.ID, "1"), effects("passkey_added", "b@example.com")), storage.ErrAlreadyExists)
			wantErr(t, "unknown user", s.CreatePasskey(t.Context(), passkey("no-such-user", "2"), storage.Effects{}), storage.ErrNotFound)
			if names := passkeyNames(t, s, b.ID); len(names) != 0 {
				t.Errorf("b's passkeys after a refused creation: %v", names)
			}
			if len(audit(t, s, b.ID)) != 0 || len(outbox(t, s)) != 0 {
				t.Error("a refused creation wrote its effects")
			}
		}},
		{name: "passkeys list oldest first, one user's only", run: func(t *testing.T, s Backend) {
			a, b := mustUser(t, s, "a@example.com"), mustUser(t, s, "b@example.com")
			for _, id := range []string{"3", "1", "2"} {
				noErr(t, "CreatePasskey", s.CreatePasskey(t.Context(), passkey(a.ID, id), storage.Effects{}))
				time.Sleep(2 * time.Millisecond)
			}
			noErr(t, "CreatePasskey", s.CreatePasskey(t.Context(), passkey(b.ID, "9"), storage.Effects{}))
			if got := passkeyNames(t, s, a.ID); !reflect.DeepEqual(got, []string{"Key 3", "Key 1", "Key 2"}) {
				t.Fatalf("ListPasskeys = %v, want in order of creation", got)
			}
		}},
		{name: "passkey rename and delete act on the owner's only", run: func(t *testing.T, s Backend) {
			a, b := mustUser(t, s, "a@example.com"), mustUser(t, s, "b@example.com")
			p := passkey(a.ID, "1")
			noErr(t, "CreatePasskey", s.CreatePasskey(t.Context(), p, storage.Effects{}))
			wantErr(t, "rename by another user", s.RenamePasskey(t.Context(), b.ID, p.ID, "Mine now", effects("passkey_renamed", "")), storage.ErrNotFound)
			wantErr(t, "delete by another user", s.DeletePasskey(t.Context(), b.ID, p.ID, effects("passkey_removed", "")), storage.ErrNotFound)
			if len(audit(t, s, "")) != 0 {
				t.Fatal("a refused change wrote its audit event")
			}
			noErr(t, "RenamePasskey", s.RenamePasskey(t.Context(), a.ID, p.ID, "Laptop", effects("passkey_renamed", "")))
			if got := passkeyNames(t, s, a.ID); !reflect.DeepEqual(got, []string{"Laptop"}) {
				t.Fatalf("after rename: %v", got)
			}
			noErr(t, "DeletePasskey", s.DeletePasskey(t.Context(), a.ID, p.ID, effects("passkey_removed", "")))
			wantErr(t, "delete again", s.DeletePasskey(t.Context(), a.ID, p.ID, storage.Effects{}), storage.ErrNotFound)
			wantErr(t, "GetPasskey after delete", func() error { _, err := s.GetPasskey(t.Context(), p.ID); return err }(), storage.ErrNotFound)
			if a := audit(t, s, a.ID); len(a) != 2 {
				t.Errorf("audit = %+v, want rename and removal", a)
			}
		}},
		{name: "passkey use keeps the highest counter and stamps the time", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			p := passkey(u.ID, "1")
			noErr(t, "CreatePasskey", s.CreatePasskey(t.Context(), p, storage.Effects{}))
			at := time.Now().UTC().Truncate(time.Second)
			noErr(t, "UsePasskey", s.UsePasskey(t.Context(), p.ID, storage.PasskeyUse{SignCount: 9, BackupState: true, At: at}))
			noErr(t, "UsePasskey(lower)", s.UsePasskey(t.Context(), p.ID, storage.PasskeyUse{SignCount: 3, BackupState: true, At: at}))
			got, err := s.GetPasskey(t.Context(), p.ID)
			noErr(t, "GetPasskey", err)
			if got.SignCount != 9 || !got.BackupState || !got.LastUsedAt.Equal(at) {
				t.Fatalf("after uses: count %d, backup %v, used %v; want 9, true, %v", got.SignCount, got.BackupState, got.LastUsedAt, at)
			}
			wantErr(t, "UsePasskey(unknown)", s.UsePasskey(t.Context(), []byte("nope"), storage.PasskeyUse{}), storage.ErrNotFound)
		}},
		{name: "reset factors removes TOTP, backup codes and passkeys together", run: func(t *testing.T, s Backend) {
			u, other := mustUser(t, s, "a@example.com"), mustUser(t, s, "b@example.com")
			_, err := s.SetTOTP(t.Context(), u.ID, []byte("sealed"), [][]byte{hash("1")}, storage.Effects{})
			noErr(t, "SetTOTP", err)
			noErr(t, "CreatePasskey", s.CreatePasskey(t.Context(), passkey(u.ID, "1"), storage.Effects{}))
			noErr(t, "CreatePasskey", s.CreatePasskey(t.Context(), passkey(other.ID, "2"), storage.Effects{}))
			got, err := s.ResetFactors(t.Context(), u.ID, effects("mfa_reset", ""))
			noErr(t, "ResetFactors", err)
			if got.TOTPEnabled() || !got.TOTPEnabledAt.IsZero() {
				t.Errorf("ResetFactors returned a user with TOTP on: %+v", got)
			}
			if n, _ := s.CountBackupCodes(t.Context(), u.ID); n != 0 {
				t.Errorf("%d backup codes left", n)
			}
			if names := passkeyNames(t, s, u.ID); len(names) != 0 {
				t.Errorf("passkeys left: %v", names)
			}
			if names := passkeyNames(t, s, other.ID); len(names) != 1 {
				t.Errorf("another user's passkeys: %v, want theirs kept", names)
			}
			if a := audit(t, s, u.ID); len(a) != 1 || a[0].Kind != "mfa_reset" {
				t.Errorf("audit = %+v", a)
			}
			_, err = s.ResetFactors(t.Context(), "no-such-user", storage.Effects{})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("ResetFactors(unknown) = %v, want ErrNotFound", err)
			}
		}},
	}
}

func userDeletionCases() []testCase {
	return []testCase{
		{name: "delete user takes what is theirs alone, keeps the audit log and frees the address", run: func(t *testing.T, s Backend) {
			u, other := mustUser(t, s, "a@example.com"), mustUser(t, s, "b@example.com")
			c := mustClient(t, s, confidentialClient("app"))
			noErr(t, "ReplaceBackupCodes", s.ReplaceBackupCodes(t.Context(), u.ID, [][]byte{hash("1")}, storage.Effects{}))
			noErr(t, "CreatePasskey", s.CreatePasskey(t.Context(), passkey(u.ID, "1"), storage.Effects{}))
			noErr(t, "SaveConsent", s.SaveConsent(t.Context(), storage.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid"}}))
			noErr(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), newToken("sig-u", "fam-u", c.ID, u.ID, time.Time{})))
			noErr(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), newToken("sig-o", "fam-o", c.ID, other.ID, time.Time{})))
			noErr(t, "DeleteUser", s.DeleteUser(t.Context(), u.ID, effects("account_deleted", "a@example.com")))

			wantErr(t, "GetUser", func() error { _, err := s.GetUser(t.Context(), u.ID); return err }(), storage.ErrNotFound)
			wantErr(t, "GetPasskey", func() error { _, err := s.GetPasskey(t.Context(), []byte("cred-1")); return err }(), storage.ErrNotFound)
			wantErr(t, "GetConsent", func() error { _, err := s.GetConsent(t.Context(), u.ID, c.ID); return err }(), storage.ErrNotFound)
			wantErr(t, "their refresh token", func() error { _, err := s.GetRefreshToken(t.Context(), "sig-u", 0); return err }(), storage.ErrNotFound)
			if _, err := s.GetRefreshToken(t.Context(), "sig-o", 0); err != nil {
				t.Errorf("another user's refresh token: %v", err)
			}
			if n, _ := s.CountBackupCodes(t.Context(), u.ID); n != 0 {
				t.Errorf("%d backup codes left", n)
			}
			if a := audit(t, s, u.ID); len(a) != 1 || a[0].Kind != "account_deleted" {
				t.Errorf("audit = %+v, want the account_deleted event kept", a)
			}
			mustUser(t, s, "A@example.com") // the address is free again
			wantErr(t, "DeleteUser again", s.DeleteUser(t.Context(), u.ID, effects("account_deleted", "")), storage.ErrNotFound)
			if a := audit(t, s, u.ID); len(a) != 1 {
				t.Errorf("a refused deletion wrote its effects: %+v", a)
			}
		}},
	}
}
