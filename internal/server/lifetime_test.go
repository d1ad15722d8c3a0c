package server

import (
	"net/http"
	"testing"
	"time"

	"github.com/latch-idp/latch/clients"
)

// TestRefreshLifetimes pins the two lifetimes of refresh tokens: a token
// unused for LATCH_REFRESH_TOKEN_IDLE_TTL expires, and no token of a family
// outlives LATCH_REFRESH_TOKEN_TTL after the first grant, however often it
// is rotated.
func TestRefreshLifetimes(t *testing.T) {
	offline := []string{"openid", "offline_access"}
	meta := clients.Metadata{Scope: "openid offline_access", TokenEndpointAuthMethod: "client_secret_basic"}

	t.Run("case=idle lifetime", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, func(c *Config) { c.RefreshIdleTTL = 2 * time.Second })
		u := s.user(t, "user")
		rp := s.client(t, meta)
		tok := rp.login(t, s.browser(), u, offline, nil)
		time.Sleep(3 * time.Second)
		status, body := rp.refresh(t, tok.RefreshToken)
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("an idle-expired refresh token must fail with invalid_grant, got %s", describe(status, body))
		}
	})
	t.Run("case=absolute lifetime bounds rotated tokens", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, func(c *Config) { c.RefreshTokenTTL = 3 * time.Second })
		u := s.user(t, "user")
		rp := s.client(t, meta)
		tok := rp.login(t, s.browser(), u, offline, nil)
		// The family was granted before this instant, so its absolute end
		// is at most 3s after it, however slow the machine.
		start := time.Now()
		// Rotated at 2s, the new token would live until 5s on its idle
		// lifetime alone; the family's absolute lifetime ends it at 3s.
		time.Sleep(2 * time.Second)
		status, body := rp.refresh(t, tok.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("refresh within the lifetime: %s", describe(status, body))
		}
		next, _ := body["refresh_token"].(string)
		time.Sleep(time.Until(start.Add(3600 * time.Millisecond)))
		status, body = rp.refresh(t, next)
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("a rotated token must not outlive the family's absolute lifetime, got %s", describe(status, body))
		}
	})
}
