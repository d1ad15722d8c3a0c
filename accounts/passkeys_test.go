package accounts_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/storage"
)

func testPasskey(id string) storage.Passkey {
	return storage.Passkey{ID: []byte(id), Name: "Key " + id, PublicKey: []byte("cose")}
}

func TestPasskeyChangesAreAuditedAndNoticed(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	u := e.user(t, "ada@example.com", "a long passphrase here")
	a := accounts.Actor{IP: "192.0.2.7"}
	if err := e.svc.AddPasskey(ctx, a, u, testPasskey("k1")); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RenamePasskey(ctx, a, u, []byte("k1"), "Phone"); err != nil {
		t.Fatal(err)
	}
	other := e.user(t, "eve@example.com", "another long passphrase")
	if err := e.svc.RemovePasskey(ctx, a, other, []byte("k1")); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatalf("removing another user's passkey: %v, want ErrNotFound", err)
	}
	if err := e.svc.RemovePasskey(ctx, a, u, []byte("k1")); err != nil {
		t.Fatal(err)
	}
	want := []string{"passkey_added", "passkey_renamed", "passkey_removed"}
	if got := kinds(e.audit(t, u.ID)); !slices.Equal(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
	var notices []string
	for _, m := range e.sent() {
		if m.To == u.Email && strings.HasPrefix(m.Template, "passkey_") {
			notices = append(notices, m.Template+":"+m.Data["name"])
		}
	}
	if !slices.Equal(notices, []string{"passkey_added:Key k1", "passkey_removed:Phone"}) {
		t.Errorf("notices = %v, want the addition and the removal, each naming the passkey", notices)
	}
}

func TestPasskeysPerAccountAreBounded(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "ada@example.com", "a long passphrase here")
	for i := range accounts.MaxPasskeys {
		if err := e.svc.AddPasskey(t.Context(), accounts.Actor{}, u, testPasskey(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.AddPasskey(t.Context(), accounts.Actor{}, u, testPasskey("one too many")); !errors.Is(err, accounts.ErrTooManyPasskeys) {
		t.Fatalf("passkey %d: %v, want ErrTooManyPasskeys", accounts.MaxPasskeys+1, err)
	}
}

func TestPasskeyNames(t *testing.T) {
	for typed, want := range map[string]string{
		"":                      "Chrome on Linux",
		"  Work   laptop ":      "Work laptop",
		strings.Repeat("é", 64): strings.Repeat("é", 64),
	} {
		if got, err := accounts.PasskeyName(typed, "Chrome on Linux"); err != nil || got != want {
			t.Errorf("PasskeyName(%q) = %q, %v; want %q", typed, got, err, want)
		}
	}
	for _, bad := range []string{strings.Repeat("a", 65), "tab\u0007bell", "\xff\xfe"} {
		if _, err := accounts.PasskeyName(bad, "x"); !errors.Is(err, accounts.ErrPasskeyName) {
			t.Errorf("PasskeyName(%q) = %v, want ErrPasskeyName", bad, err)
		}
	}
}

func TestResetMFARemovesPasskeysToo(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "ada@example.com", "a long passphrase here")
	if err := e.svc.AddPasskey(t.Context(), accounts.Actor{}, u, testPasskey("k1")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.EnableTOTP(t.Context(), accounts.Actor{}, u, []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.ResetMFA(t.Context(), accounts.Actor{}, u.ID)
	if err != nil || got.TOTPEnabled() {
		t.Fatalf("ResetMFA = %+v, %v", got, err)
	}
	if ps, _ := e.store.ListPasskeys(t.Context(), u.ID); len(ps) != 0 {
		t.Errorf("%d passkeys left after ResetMFA", len(ps))
	}
}
