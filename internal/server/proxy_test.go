package server

import (
	"testing"

	"github.com/latch-idp/latch/storage"
)

// TestTrustedProxies pins LATCH_TRUSTED_PROXIES end to end: behind a
// trusted proxy the audit log records the client the proxy names; from
// any other peer the header is ignored.
func TestTrustedProxies(t *testing.T) {
	failedLoginIP := func(t *testing.T, s *testServer) string {
		t.Helper()
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		b.forwardedFor = "198.51.100.23"
		p := b.get(t, s.URL+"/login")
		b.submit(t, p.formWith(t, "password"), map[string]string{"email": u.Email, "password": "wrong password"}, [2]string{})
		events, err := s.store.QueryAudit(t.Context(), storage.AuditQuery{Kind: "login_failed", UserID: u.ID})
		if err != nil || len(events) != 1 {
			t.Fatalf("login_failed events: %v %v", events, err)
		}
		return events[0].IP
	}
	t.Run("case=untrusted by default", func(t *testing.T) {
		if ip := failedLoginIP(t, startServer(t, nil)); ip != "127.0.0.1" {
			t.Fatalf("audit IP %q, want the peer's", ip)
		}
	})
	t.Run("case=from a trusted proxy", func(t *testing.T) {
		s := startServer(t, func(c *Config) { c.TrustedProxies = []string{"127.0.0.0/8"} })
		if ip := failedLoginIP(t, s); ip != "198.51.100.23" {
			t.Fatalf("audit IP %q, want the forwarded client", ip)
		}
	})
}
