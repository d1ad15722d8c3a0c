package server

import (
	"net/http"
	"slices"
	"testing"

	"github.com/latch-idp/latch/storage"
)

func TestAdminAPIUsers(t *testing.T) {
	a := startAdmin(t, nil)
	created := a.as(t, http.MethodPost, "/admin/users", map[string]any{
		"email": "Carol@Example.com", "name": "Carol", "password": "correct horse battery staple 42",
	}).want(t, http.StatusCreated)
	id := claim(created.body, "id")
	path := "/admin/users/" + id
	t.Run("case=created verified, as a user, found by search", func(t *testing.T) {
		if claim(created.body, "role") != storage.RoleUser || created.body["email_verified"] != true {
			t.Fatalf("created: %v", created.body)
		}
		found := items(a.as(t, http.MethodGet, "/admin/users?q=carol", nil).want(t, http.StatusOK))
		if len(found) != 1 || claim(found[0], "id") != id {
			t.Fatalf("search: %v", found)
		}
	})
	t.Run("case=patch name and role, then force a password change", func(t *testing.T) {
		up := a.patchUser(t, id, map[string]any{"name": "Carol K.", "role": "admin"}).want(t, http.StatusOK)
		if claim(up.body, "name") != "Carol K." || claim(up.body, "role") != "admin" {
			t.Fatalf("patched: %v", up.body)
		}
		if a.patchUser(t, id, map[string]any{"password_must_change": true}).want(t, http.StatusOK).body["password_must_change"] != true {
			t.Fatal("password change not forced")
		}
		a.patchUser(t, id, map[string]any{"role": "root"}).want(t, http.StatusBadRequest)
	})
	t.Run("case=disable, enable, reset MFA, revoke, send a reset, each audited", func(t *testing.T) {
		if a.as(t, http.MethodPost, path+"/disable", nil).want(t, http.StatusOK).body["disabled"] != true {
			t.Fatal("not disabled")
		}
		a.as(t, http.MethodPost, path+"/enable", nil).want(t, http.StatusOK)
		a.s.enableTOTP(t, id)
		if a.as(t, http.MethodPost, path+"/reset-mfa", nil).want(t, http.StatusOK).body["totp"] != false {
			t.Fatal("MFA not reset")
		}
		a.as(t, http.MethodPost, path+"/revoke", nil).want(t, http.StatusOK)
		a.as(t, http.MethodPost, path+"/send-password-reset", nil).want(t, http.StatusOK)
		if n := a.s.mailJobs(t, "carol@example.com", "password_reset"); n != 1 {
			t.Fatalf("%d reset mails", n)
		}
		kinds := a.s.auditKinds(t, id)
		for _, k := range []string{"user_disabled", "user_enabled", "mfa_reset", "user_revoked", "role_changed"} {
			if !slices.Contains(kinds, k) {
				t.Errorf("audit lacks %s: %v", k, kinds)
			}
		}
	})
	t.Run("case=the user's passkeys are listed and reset MFA removes them", func(t *testing.T) {
		p := storage.Passkey{ID: []byte("credential-1"), UserID: id, Name: "Carol's key", PublicKey: []byte("cose"), BackupEligible: true}
		if err := a.s.store.CreatePasskey(t.Context(), p, storage.Effects{}); err != nil {
			t.Fatal(err)
		}
		listed := a.as(t, http.MethodGet, path, nil).want(t, http.StatusOK).body["passkeys"]
		keys := asSlice(listed)
		if len(keys) != 1 || claim(keys[0].(map[string]any), "name") != "Carol's key" || keys[0].(map[string]any)["synced"] != true {
			t.Fatalf("passkeys in the user's detail: %v", listed)
		}
		a.as(t, http.MethodPost, path+"/reset-mfa", nil).want(t, http.StatusOK)
		if left := asSlice(a.as(t, http.MethodGet, path, nil).want(t, http.StatusOK).body["passkeys"]); len(left) != 0 {
			t.Fatalf("passkeys after reset MFA: %v", left)
		}
	})
	t.Run("case=refusals", func(t *testing.T) {
		a.as(t, http.MethodPost, "/admin/users", map[string]any{"email": "carol@example.com", "password": "another long password 42"}).want(t, http.StatusConflict)
		a.as(t, http.MethodPost, "/admin/users", map[string]any{"email": "not-an-address", "password": "another long password 42"}).want(t, http.StatusBadRequest)
		a.as(t, http.MethodGet, "/admin/users/no-such-user", nil).want(t, http.StatusNotFound)
	})
}

func TestAdminAPIPagesUsers(t *testing.T) {
	a := startAdmin(t, nil)
	for range 4 {
		a.s.user(t, storage.RoleUser)
	}
	seen := map[string]bool{}
	next := "/admin/users?limit=2"
	for pages := 0; next != ""; pages++ {
		ans := a.as(t, http.MethodGet, next, nil).want(t, http.StatusOK)
		for _, u := range items(ans) {
			if seen[claim(u, "id")] {
				t.Fatalf("user %s on two pages", claim(u, "id"))
			}
			seen[claim(u, "id")] = true
		}
		next = ""
		if c := claim(ans.body, "next_cursor"); c != "" {
			next = "/admin/users?limit=2&cursor=" + c
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if all, _ := a.s.store.ListUsers(t.Context()); len(seen) != len(all) {
		t.Fatalf("pages held %d users of %d", len(seen), len(all))
	}
	a.as(t, http.MethodGet, "/admin/users?cursor=bogus", nil).want(t, http.StatusBadRequest)
	a.as(t, http.MethodGet, "/admin/users?limit=0", nil).want(t, http.StatusBadRequest)
}
