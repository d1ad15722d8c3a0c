package accounts_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/memory"
)

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	hasher := password.NewHasher(testParams, 4, time.Second)
	checker := password.Checker{Policy: password.DefaultPolicy()}
	service := func(t *testing.T, store *memory.Store) *accounts.Service {
		svc, err := accounts.New(accounts.Config{Store: store, Hasher: hasher, Checker: checker})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	t.Run("case=creates the admin once, verified, with must-change", func(t *testing.T) {
		store := memory.New(memory.Options{})
		svc := service(t, store)
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := svc.Bootstrap(ctx, "Admin@Example.com", "a long admin passphrase")
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					created++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if created != 1 {
			t.Fatalf("created %d admins", created)
		}
		u, err := store.GetUserByEmail(ctx, "admin@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != storage.RoleAdmin || !u.PasswordMustChange || !u.EmailVerified {
			t.Errorf("admin = %+v", u)
		}
		if ok, err := svc.Bootstrap(ctx, "admin@example.com", "a long admin passphrase"); ok || err != nil {
			t.Errorf("second bootstrap: %v %v", ok, err)
		}
	})
	t.Run("case=refuses a short or common password", func(t *testing.T) {
		svc := service(t, memory.New(memory.Options{}))
		for _, bad := range []string{"short", "password123"} {
			if _, err := svc.Bootstrap(ctx, "admin@example.com", bad); err == nil {
				t.Errorf("%q accepted", bad)
			}
		}
	})
	t.Run("case=the bootstrap admin address is held to the registration rule", func(t *testing.T) {
		svc := service(t, memory.New(memory.Options{}))
		for _, bad := range []string{"admin@ｅｘａｍｐｌｅ.com", "\u0430dmin@example.com", "admin@exam\u200bple.com"} {
			if created, err := svc.Bootstrap(t.Context(), bad, "a long admin passphrase"); err == nil || created {
				t.Errorf("%q: created=%v err=%v, want refused", bad, created, err)
			}
		}
	})
}

func TestCreate(t *testing.T) {
	byCLI := accounts.Actor{By: "cli"}
	t.Run("case=refuses an address, a role or a password the rules refuse, each by its field", func(t *testing.T) {
		e := newEnv(t)
		for _, c := range []struct {
			n    accounts.NewUser
			want string
		}{
			{accounts.NewUser{Email: "not an address", Role: storage.RoleUser, Password: "a long passphrase here"}, accounts.FieldEmail},
			{accounts.NewUser{Email: "ada@ｅｘａｍｐｌｅ.com", Role: storage.RoleUser, Password: "a long passphrase here"}, accounts.FieldEmail},
			{accounts.NewUser{Email: "ada@example.com", Role: "root", Password: "a long passphrase here"}, accounts.FieldRole},
			{accounts.NewUser{Email: "ada@example.com", Role: storage.RoleUser, Password: "short"}, accounts.FieldPassword},
			{accounts.NewUser{Email: "ada@example.com", Role: storage.RoleUser, Password: "password123"}, accounts.FieldPassword},
		} {
			if _, err := e.svc.Create(t.Context(), byCLI, c.n); field(err) != c.want {
				t.Errorf("%+v: err = %v, want a refusal of %s", c.n, err, c.want)
			}
		}
		if _, err := e.store.GetUserByEmail(t.Context(), "ada@example.com"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("a refused user was stored: %v", err)
		}
	})
	t.Run("case=creates a verified user with the audit event, once per address", func(t *testing.T) {
		e := newEnv(t)
		u, err := e.svc.Create(t.Context(), byCLI, accounts.NewUser{Email: " Ada@Example.com ", Role: storage.RoleAdmin, Password: "a long passphrase here", MustChange: true})
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "ada@example.com" || !u.EmailVerified || !u.PasswordMustChange || u.Role != storage.RoleAdmin {
			t.Errorf("user = %+v", u)
		}
		evs := e.audit(t, "")
		if len(evs) != 1 || evs[0].Kind != "user_created" || evs[0].Detail["by"] != "cli" || evs[0].Detail["role"] != storage.RoleAdmin {
			t.Errorf("audit = %+v", evs)
		}
		_, err = e.svc.Create(t.Context(), byCLI, accounts.NewUser{Email: "ada@example.com", Role: storage.RoleUser, Password: "another long passphrase"})
		if !errors.Is(err, accounts.ErrAlreadyExists) {
			t.Errorf("second create: %v, want ErrAlreadyExists", err)
		}
	})
}

func TestUserChanges(t *testing.T) {
	byCLI := accounts.Actor{By: "cli"}
	t.Run("case=disabling ends what the user holds; enabling does not", func(t *testing.T) {
		e := newEnv(t)
		u := e.user(t, "ada@example.com", "a long passphrase here")
		if got, err := e.svc.SetDisabled(t.Context(), byCLI, u.ID, true); err != nil || !got.Disabled {
			t.Fatalf("disable: %+v %v", got, err)
		}
		if got, err := e.svc.SetDisabled(t.Context(), byCLI, u.ID, false); err != nil || got.Disabled {
			t.Fatalf("enable: %+v %v", got, err)
		}
		if got := e.revoked.usersRevoked(); !slices.Equal(got, []string{u.ID}) {
			t.Errorf("revoked %v, want the user once", got)
		}
		if got := kinds(e.audit(t, u.ID)); !slices.Equal(got, []string{"user_disabled", "user_enabled"}) {
			t.Errorf("audit = %v", got)
		}
	})
	t.Run("case=a role latch does not know is refused", func(t *testing.T) {
		e := newEnv(t)
		u := e.user(t, "ada@example.com", "a long passphrase here")
		if _, err := e.svc.SetRole(t.Context(), byCLI, u.ID, "root"); field(err) != accounts.FieldRole {
			t.Errorf("err = %v", err)
		}
		got, err := e.svc.SetRole(t.Context(), byCLI, u.ID, storage.RoleAdmin)
		if err != nil || got.Role != storage.RoleAdmin {
			t.Fatalf("set role: %+v %v", got, err)
		}
		evs := e.audit(t, u.ID)
		if len(evs) != 1 || evs[0].Kind != "role_changed" || evs[0].Detail["role"] != storage.RoleAdmin || evs[0].Detail["by"] != "cli" {
			t.Errorf("audit = %+v", evs)
		}
	})
	t.Run("case=resetting MFA clears the secret with its audit event", func(t *testing.T) {
		e := newEnv(t)
		u := e.user(t, "ada@example.com", "a long passphrase here")
		if _, err := e.store.SetTOTP(t.Context(), u.ID, []byte("sealed"), [][]byte{[]byte("code")}, storage.Effects{}); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.ResetMFA(t.Context(), byCLI, u.ID)
		if err != nil || got.TOTPEnabled() {
			t.Fatalf("reset: %+v %v", got, err)
		}
		if n, _ := e.store.CountBackupCodes(t.Context(), u.ID); n != 0 {
			t.Errorf("%d backup codes left", n)
		}
		if got := kinds(e.audit(t, u.ID)); !slices.Equal(got, []string{"mfa_reset"}) {
			t.Errorf("audit = %v", got)
		}
	})
	t.Run("case=a change to an unknown user is ErrNotFound", func(t *testing.T) {
		e := newEnv(t)
		if _, err := e.svc.SetDisabled(t.Context(), byCLI, "00000000-0000-0000-0000-000000000000", true); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("case=a service built without a part says which when a rule needs it", func(t *testing.T) {
		svc, err := accounts.New(accounts.Config{Store: memory.New(memory.Options{})})
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.Create(t.Context(), byCLI, accounts.NewUser{Email: "ada@example.com", Role: storage.RoleUser, Password: "a long passphrase here"})
		if err == nil || err.Error() != "accounts: built without a Checker" {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRevokeUserIsAudited(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "revoke@example.com", "a long enough password 42")
	if err := e.svc.RevokeUser(t.Context(), accounts.Actor{By: "user:admin-1"}, u.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.revoked.usersRevoked(); len(got) != 1 || got[0] != u.ID {
		t.Fatalf("revoked %v", got)
	}
	events, _ := e.store.ListAudit(t.Context(), u.ID, 0)
	if len(events) == 0 || events[0].Kind != "user_revoked" || events[0].Detail["by"] != "user:admin-1" {
		t.Fatalf("audit: %+v", events)
	}
}

func TestSetNameAndRequirePasswordChange(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "name@example.com", "a long enough password 42")
	got, err := e.svc.SetName(t.Context(), accounts.Actor{}, u.ID, "  Name  ")
	if err != nil || got.Name != "Name" {
		t.Fatalf("SetName: %+v %v", got, err)
	}
	if _, err := e.svc.SetName(t.Context(), accounts.Actor{}, u.ID, "bad\x00name"); err == nil {
		t.Fatal("a control character accepted")
	}
	if got, err = e.svc.RequirePasswordChange(t.Context(), accounts.Actor{}, u.ID); err != nil || !got.PasswordMustChange {
		t.Fatalf("RequirePasswordChange: %+v %v", got, err)
	}
}
