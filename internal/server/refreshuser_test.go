package server

import (
	"net/http"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// TestRefreshFollowsTheUser pins that refreshed tokens carry the user as
// they are now: a changed role reaches the next access token, and a
// disabled user gets no more tokens.
func TestRefreshFollowsTheUser(t *testing.T) {
	s := startServer(t, nil)
	u := s.user(t, storage.RoleAdmin)
	rp := s.client(t, clients.Metadata{Scope: "openid email offline_access", TokenEndpointAuthMethod: "client_secret_basic"})
	tok := rp.login(t, s.browser(), u, []string{"openid", "email", "offline_access"}, nil)
	if _, claims := s.verifyJWT(t, tok.AccessToken); claims["role"] != storage.RoleAdmin {
		t.Fatalf("role before: %v", claims["role"])
	}
	if _, err := s.store.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(x *storage.User) error {
		x.Role = storage.RoleUser
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	status, body := rp.refresh(t, tok.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh: %s", describe(status, body))
	}
	at, _ := body["access_token"].(string)
	if _, claims := s.verifyJWT(t, at); claims["role"] != storage.RoleUser {
		t.Fatalf("a refreshed access token must carry the current role, got %v", claims["role"])
	}
	if _, err := s.store.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(x *storage.User) error {
		x.Disabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	next, _ := body["refresh_token"].(string)
	status, body = rp.refresh(t, next)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("a disabled user must get no more tokens, got %s", describe(status, body))
	}
}
