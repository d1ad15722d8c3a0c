package accounts_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/ratelimit"
	"github.com/latch-idp/latch/storage"
)

const (
	email = "ada@example.com"
	pw    = "the owner's long passphrase"
)

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, email, pw)
	for _, c := range []struct {
		name, email, pw, reason string
	}{
		{"right password", email, pw, ""},
		{"wrong password", email, "not the passphrase", accounts.FailWrongPassword},
		{"unknown email", "bob@example.com", pw, accounts.FailUnknownEmail},
	} {
		got, reason, err := e.svc.Authenticate(t.Context(), c.email, c.pw)
		if err != nil || reason != c.reason {
			t.Errorf("%s: reason %q err %v, want %q", c.name, reason, err, c.reason)
		}
		if c.reason == "" && got.ID != u.ID {
			t.Errorf("%s: user %q, want %q", c.name, got.ID, u.ID)
		}
	}
	if _, err := e.svc.SetDisabled(t.Context(), accounts.Actor{}, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, reason, err := e.svc.Authenticate(t.Context(), email, pw); err != nil || reason != accounts.FailDisabled {
		t.Errorf("disabled: reason %q err %v", reason, err)
	}
}

func TestChangePassword(t *testing.T) {
	const next = "a brand new long passphrase"
	attempts := func(t *testing.T) *accounts.Attempts {
		return accounts.NewAttempts(ratelimit.New(testenv.Redis(t), "account", 3, time.Minute), nil, nil)
	}
	t.Run("case=a wrong current password is counted until the user is locked out", func(t *testing.T) {
		e := newEnv(t)
		u := e.user(t, email, pw)
		a := attempts(t)
		change := accounts.PasswordChange{User: u, Current: "not the passphrase", New: next, Attempts: a}
		for i := range 2 {
			if err := e.svc.ChangePassword(t.Context(), accounts.Actor{}, change); !errors.Is(err, accounts.ErrWrong) {
				t.Fatalf("try %d: %v, want ErrWrong", i+1, err)
			}
		}
		if err := e.svc.ChangePassword(t.Context(), accounts.Actor{}, change); err == nil {
			t.Fatal("third wrong try passed")
		} else if wait, ok := accounts.Locked(err); !ok || wait <= 0 {
			t.Fatalf("third wrong try: %v, want locked", err)
		}
		change.Current = pw
		if _, ok := accounts.Locked(e.svc.ChangePassword(t.Context(), accounts.Actor{}, change)); !ok {
			t.Error("the right password passed the lock")
		}
		if len(e.revoked.usersRevoked()) != 0 {
			t.Error("a refused change revoked")
		}
	})
	t.Run("case=the new password is held to the rules and must differ", func(t *testing.T) {
		e := newEnv(t)
		u := e.user(t, email, pw)
		for _, bad := range []string{"short", "password123", pw} {
			err := e.svc.ChangePassword(t.Context(), accounts.Actor{}, accounts.PasswordChange{User: u, Current: pw, New: bad, Attempts: attempts(t)})
			if field(err) != accounts.FieldNewPassword {
				t.Errorf("%q: %v, want a refusal of the new password", bad, err)
			}
		}
		if v := accounts.Invalid(e.svc.ChangePassword(t.Context(), accounts.Actor{}, accounts.PasswordChange{User: u, Current: pw, New: pw, Attempts: attempts(t)})); v[0].Message != accounts.SameMessage {
			t.Errorf("same password: %q", v[0].Message)
		}
	})
	t.Run("case=a change stores the hash, mails the notice, records it and revokes, once", func(t *testing.T) {
		e := newEnv(t)
		u := e.user(t, email, pw)
		a := accounts.Actor{IP: "192.0.2.1", UserAgent: "test"}
		if err := e.svc.ChangePassword(t.Context(), a, accounts.PasswordChange{User: u, Current: pw, New: next, Attempts: attempts(t)}); err != nil {
			t.Fatal(err)
		}
		if _, reason, _ := e.svc.Authenticate(t.Context(), email, next); reason != "" {
			t.Errorf("new password refused: %s", reason)
		}
		evs := e.audit(t, u.ID)
		if len(evs) != 1 || evs[0].Kind != "password_changed" || evs[0].IP != "192.0.2.1" || evs[0].UserAgent != "test" {
			t.Errorf("audit = %+v", evs)
		}
		if m := e.sent(); len(m) != 1 || m[0].Template != "password_changed" || m[0].To != email || m[0].Data["ip"] != "192.0.2.1" {
			t.Errorf("mails = %+v", m)
		}
		if got := e.revoked.usersRevoked(); !slices.Equal(got, []string{u.ID}) {
			t.Errorf("revoked %v", got)
		}
		// The same change again started from the old read is stale.
		err := e.svc.ChangePassword(t.Context(), a, accounts.PasswordChange{User: u, Current: pw, New: "yet another long passphrase", Attempts: attempts(t)})
		if !errors.Is(err, accounts.ErrStale) {
			t.Errorf("second change from a stale read: %v, want ErrStale", err)
		}
	})
}

func TestSetNewPassword(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, email, pw)
	if _, err := e.svc.SetNewPassword(t.Context(), accounts.Actor{}, u, pw); field(err) != accounts.FieldNewPassword {
		t.Errorf("the current password: %v, want refused", err)
	}
	phc, err := e.svc.SetNewPassword(t.Context(), accounts.Actor{}, u, "a brand new long passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.GetUser(t.Context(), u.ID); got.PasswordHash != phc || got.PasswordMustChange {
		t.Errorf("stored %+v, want hash %q and no must-change", got, phc)
	}
	if _, err := e.svc.SetNewPassword(t.Context(), accounts.Actor{}, u, "yet another long passphrase"); !errors.Is(err, accounts.ErrStale) {
		t.Errorf("from a stale read: %v, want ErrStale", err)
	}
}

// linkToken returns the token of the link in m.
func linkToken(t *testing.T, m storage.MailJob) string {
	t.Helper()
	l, err := url.Parse(m.Data["link"])
	if err != nil {
		t.Fatal(err)
	}
	return l.Query().Get("token")
}

func TestResetPassword(t *testing.T) {
	const next = "a brand new long passphrase"
	t.Run("case=the mailed link sets a password once and verifies the address", func(t *testing.T) {
		e := newEnv(t)
		u := e.user(t, email, pw)
		if err := e.svc.SendPasswordReset(t.Context(), accounts.Actor{}, u); err != nil {
			t.Fatal(err)
		}
		m := e.sent()
		if len(m) != 1 || m[0].Template != "password_reset" || !strings.HasPrefix(m[0].Data["link"], "https://id.example.com/reset?token=") || m[0].Data["expires"] != "30m0s" {
			t.Fatalf("mails = %+v", m)
		}
		tok := linkToken(t, m[0])
		if got, ok := e.svc.ResetUser(t.Context(), tok); !ok || got.ID != u.ID {
			t.Fatalf("ResetUser = %+v %v", got, ok)
		}
		if _, err := e.svc.ResetPassword(t.Context(), accounts.Actor{}, tok, pw); field(err) != accounts.FieldNewPassword {
			t.Errorf("the current password: %v, want refused", err)
		}
		if _, err := e.svc.ResetPassword(t.Context(), accounts.Actor{}, tok, next); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ResetPassword(t.Context(), accounts.Actor{}, tok, "yet another long passphrase"); !errors.Is(err, accounts.ErrStale) {
			t.Errorf("the link used twice: %v, want ErrStale", err)
		}
		if got := kinds(e.audit(t, u.ID)); !slices.Equal(got, []string{"password_reset_requested", "password_reset"}) {
			t.Errorf("audit = %v", got)
		}
	})
	t.Run("case=a reset of an unverified account drops a second factor set up before", func(t *testing.T) {
		e := newEnv(t)
		u := e.user(t, email, pw)
		if _, err := e.store.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(u *storage.User) error {
			u.EmailVerified, u.TOTPSecret = false, []byte("sealed by someone else")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		u, _ = e.store.GetUser(t.Context(), u.ID)
		if err := e.svc.SendPasswordReset(t.Context(), accounts.Actor{}, u); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ResetPassword(t.Context(), accounts.Actor{}, linkToken(t, e.sent()[0]), next); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.store.GetUser(t.Context(), u.ID); !got.EmailVerified || got.TOTPEnabled() {
			t.Errorf("after reset: %+v", got)
		}
	})
	t.Run("case=a token that is garbled or made for another purpose is refused", func(t *testing.T) {
		e := newEnv(t)
		u := e.user(t, email, pw)
		for _, tok := range []string{"", "abc", u.ID + ".99999999999.AAAA"} {
			if _, err := e.svc.ResetPassword(t.Context(), accounts.Actor{}, tok, next); !errors.Is(err, accounts.ErrStale) {
				t.Errorf("%q: %v", tok, err)
			}
		}
	})
}

func TestRegisterAndVerify(t *testing.T) {
	t.Run("case=every refused field is reported at once, before admit runs", func(t *testing.T) {
		e := newEnv(t)
		admitted := false
		err := e.svc.Register(t.Context(), accounts.Actor{}, accounts.Registration{Email: "nope", Password: "short"}, func(ctx context.Context) error {
			admitted = true
			return nil
		})
		var fields []string
		for _, v := range accounts.Invalid(err) {
			fields = append(fields, v.Field)
		}
		if !slices.Equal(fields, []string{accounts.FieldEmail, accounts.FieldPassword}) || admitted {
			t.Errorf("fields %v admitted %v", fields, admitted)
		}
	})
	t.Run("case=a registration is verified by its link, once; a taken address answers alike", func(t *testing.T) {
		e := newEnv(t)
		reg := accounts.Registration{Email: " Ada@Example.com", Name: "  Ada ", Password: pw}
		if err := e.svc.Register(t.Context(), accounts.Actor{}, reg, nil); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Register(t.Context(), accounts.Actor{}, reg, nil); err != nil {
			t.Fatalf("taken address: %v", err)
		}
		if err := e.svc.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		m := e.sent()
		if len(m) != 1 || m[0].Template != "verify_email" || m[0].To != email {
			t.Fatalf("mails = %+v", m)
		}
		u, _ := e.store.GetUserByEmail(t.Context(), email)
		if u.Name != "Ada" || u.EmailVerified {
			t.Errorf("registered %+v", u)
		}
		tok := linkToken(t, m[0])
		if err := e.svc.VerifyEmail(t.Context(), accounts.Actor{}, tok); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.VerifyEmail(t.Context(), accounts.Actor{}, tok); !errors.Is(err, accounts.ErrStale) {
			t.Errorf("second use: %v, want ErrStale", err)
		}
		if got := kinds(e.audit(t, u.ID)); !slices.Equal(got, []string{"user_registered", "email_verified"}) {
			t.Errorf("audit = %v", got)
		}
	})
}
