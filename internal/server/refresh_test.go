package server

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// TestRefreshRotation pins refresh token rotation: each refresh returns a
// new token and the old one fails; presenting a rotated token again with the
// client's authentication is reuse and revokes the family (audited, the user
// mailed), without it nothing; of racing refreshes at most one wins.
func TestRefreshRotation(t *testing.T) {
	f := startOIDC(t)
	s, public, basic, post := f.s, f.public, f.basic, f.post

	t.Run("case=refresh tokens rotate and the old one fails", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := post.login(t, s.browser(), u, allScopes, nil)
		rt := tok.RefreshToken
		for i := range 3 {
			status, body := post.refresh(t, rt)
			if status != http.StatusOK {
				t.Fatalf("refresh %d: %s", i, describe(status, body))
			}
			next := claim(body, "refresh_token")
			if next == "" || next == rt {
				t.Fatalf("refresh %d returned refresh token %q", i, next)
			}
			if !s.active(t, claim(body, "access_token")) {
				t.Errorf("refresh %d: new access token inactive", i)
			}
			if raw := claim(body, "id_token"); raw != "" {
				idt, err := post.idVerifier(t).Verify(t.Context(), raw)
				if err != nil || idt.Subject != u.ID {
					t.Errorf("refreshed ID token: %v (sub %v)", err, idt)
				}
			}
			rt = next
		}
		status, body := post.refresh(t, tok.RefreshToken)
		if status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Errorf("rotated token: %s, want 400 invalid_grant", describe(status, body))
		}
	})

	t.Run("case=refresh token reuse revokes the family", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := basic.login(t, s.browser(), u, allScopes, nil)
		otherFamily := basic.login(t, s.browser(), u, allScopes, nil)

		status, body := basic.refresh(t, tok.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("refresh: %s", describe(status, body))
		}
		at2, rt2 := claim(body, "access_token"), claim(body, "refresh_token")

		status, body = basic.refresh(t, tok.RefreshToken)
		if status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Fatalf("reuse: %s, want 400 invalid_grant", describe(status, body))
		}
		for name, at := range map[string]string{"first": tok.AccessToken, "after rotation": at2} {
			if s.active(t, at) {
				t.Errorf("%s access token of the family is still active", name)
			}
		}
		if status, body := basic.refresh(t, rt2); status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Errorf("newest refresh token of the family: %s, want 400 invalid_grant", describe(status, body))
		}
		if !slices.Contains(s.auditKinds(t, u.ID), "refresh_token_reuse") {
			t.Errorf("audit has %v, no refresh_token_reuse", s.auditKinds(t, u.ID))
		}
		if n := s.mailJobs(t, u.Email, "refresh_reuse"); n != 1 {
			t.Errorf("%d refresh_reuse emails enqueued, want 1", n)
		}

		// The family policy leaves the user's other grants alone.
		if !s.active(t, otherFamily.AccessToken) {
			t.Error("another family's access token was revoked")
		}
		if status, body := basic.refresh(t, otherFamily.RefreshToken); status != http.StatusOK {
			t.Errorf("another family's refresh: %s", describe(status, body))
		}
	})

	t.Run("case=a rotated token without client authentication revokes nothing", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := basic.login(t, s.browser(), u, allScopes, nil)
		status, body := basic.refresh(t, tok.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("refresh: %s", describe(status, body))
		}
		// Someone holding the old token but not the client's secret.
		stranger := postOpt{form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, user: basic.client.ID, pass: "wrong"}
		if status, body := s.post(t, "/oauth2/token", stranger); status != http.StatusUnauthorized {
			t.Errorf("old token with a wrong secret: %s, want 401", describe(status, body))
		}
		if !s.active(t, claim(body, "access_token")) {
			t.Error("an unauthenticated request revoked the family")
		}
		if status, b := basic.refresh(t, claim(body, "refresh_token")); status != http.StatusOK {
			t.Errorf("newest refresh token after an unauthenticated reuse: %s", describe(status, b))
		}
		if kinds := s.auditKinds(t, u.ID); slices.Contains(kinds, "refresh_token_reuse") {
			t.Errorf("audit %v: an unauthenticated request was recorded as reuse", kinds)
		}
	})

	t.Run("case=racing refreshes of one token have at most one winner", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := public.login(t, s.browser(), u, allScopes, nil)
		results := race(t, 8, func() *http.Request {
			return s.formRequest(t, "/oauth2/token", public.auth(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}))
		})
		wins := 0
		for _, r := range results {
			switch {
			case r.status == http.StatusOK:
				wins++
			case r.status != http.StatusBadRequest || oauthError(r.body) == "":
				t.Errorf("losing refresh: %d %v, want 400 with an RFC 6749 error", r.status, r.body)
			}
		}
		if wins > 1 {
			t.Errorf("%d of %d racing refreshes succeeded", wins, len(results))
		}
	})
}

// TestRefreshGracePeriod pins the grace rule: a refresh token
// re-presented within LATCH_REFRESH_GRACE_PERIOD of its rotation is
// accepted, not treated as theft.
func TestRefreshGracePeriod(t *testing.T) {
	s := startServer(t, func(c *Config) { c.RefreshGracePeriod = time.Minute })
	rp := s.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid offline_access"})
	u := s.user(t, storage.RoleUser)
	tok := rp.login(t, s.browser(), u, []string{"openid", "offline_access"}, nil)

	t.Run("case=re-presented within the grace period succeeds", func(t *testing.T) {
		status, first := rp.refresh(t, tok.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("refresh: %s", describe(status, first))
		}
		status, again := rp.refresh(t, tok.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("re-presented within the grace period: %s", describe(status, again))
		}
		for name, body := range map[string]map[string]any{"first": first, "again": again} {
			if !s.active(t, claim(body, "access_token")) {
				t.Errorf("%s refresh's access token is inactive", name)
			}
			if status, b := rp.refresh(t, claim(body, "refresh_token")); status != http.StatusOK {
				t.Errorf("%s refresh's refresh token: %s", name, describe(status, b))
			}
		}
		if slices.Contains(s.auditKinds(t, u.ID), "refresh_token_reuse") {
			t.Error("a re-presentation within the grace period was audited as reuse")
		}
	})

	t.Run("case=a revoked token is never accepted", func(t *testing.T) {
		tok := rp.login(t, s.browser(), u, []string{"openid", "offline_access"}, nil)
		if status, body := s.post(t, "/oauth2/revoke", rp.auth(url.Values{"token": {tok.RefreshToken}})); status != http.StatusOK {
			t.Fatalf("revoke: %s", describe(status, body))
		}
		if status, body := rp.refresh(t, tok.RefreshToken); status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Errorf("revoked token within the grace period: %s, want 400 invalid_grant", describe(status, body))
		}
	})
}

// TestRefreshReuseRevokesUser pins LATCH_REFRESH_REUSE_REVOKES=user: a reuse
// revokes every grant and browser session of the user.
func TestRefreshReuseRevokesUser(t *testing.T) {
	s := startServer(t, func(c *Config) { c.RefreshReuse = "user" })
	a := s.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid offline_access"})
	other := s.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid offline_access"})
	scopes := []string{"openid", "offline_access"}

	t.Run("case=reuse revokes the user's other grants and sessions", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		bystander := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := a.login(t, b, u, scopes, nil)
		otherTok := other.login(t, b, u, scopes, nil)
		secondBrowser := s.browser()
		other.login(t, secondBrowser, u, scopes, nil)
		theirs := other.login(t, s.browser(), bystander, scopes, nil)

		if status, body := a.refresh(t, tok.RefreshToken); status != http.StatusOK {
			t.Fatalf("refresh: %s", describe(status, body))
		}
		if status, body := a.refresh(t, tok.RefreshToken); status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Fatalf("reuse: %s, want 400 invalid_grant", describe(status, body))
		}
		if s.active(t, otherTok.AccessToken) {
			t.Error("the user's access token of another client is still active")
		}
		if status, body := other.refresh(t, otherTok.RefreshToken); status != http.StatusBadRequest {
			t.Errorf("the user's refresh token of another client: %s, want 400", describe(status, body))
		}
		for name, br := range map[string]*browser{"this browser": b, "another browser": secondBrowser} {
			ar := other.authURL(scopes, map[string]string{"prompt": "none"})
			if q := br.authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State); q.Get("error") != "login_required" {
				t.Errorf("%s still has a session: %v", name, q)
			}
		}
		if !slices.Contains(s.auditKinds(t, u.ID), "refresh_token_reuse") {
			t.Errorf("audit has %v, no refresh_token_reuse", s.auditKinds(t, u.ID))
		}
		if n := s.mailJobs(t, u.Email, "refresh_reuse"); n != 1 {
			t.Errorf("%d refresh_reuse emails enqueued, want 1", n)
		}
		if !s.active(t, theirs.AccessToken) {
			t.Error("another user's token was revoked")
		}
	})
}

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

// TestRefreshReuseBurstAlertsOnce pins #11's weakness 6: a burst of
// presentations of one stolen, rotated token revokes the family, writes
// the audit event and enqueues the alert exactly once, by whichever request
// revoked it.
func TestRefreshReuseBurstAlertsOnce(t *testing.T) {
	f := startOIDC(t)
	s, basic := f.s, f.basic
	u := s.user(t, storage.RoleUser)
	tok := basic.login(t, s.browser(), u, allScopes, nil)
	if status, body := basic.refresh(t, tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh: %s", describe(status, body))
	}
	answers := race(t, 30, func() *http.Request {
		return s.formRequest(t, "/oauth2/token", basic.auth(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}))
	})
	for i, a := range answers {
		if a.status != http.StatusBadRequest {
			t.Errorf("reuse %d: %d %s", i, a.status, a.raw)
		}
	}
	reuses := 0
	for _, k := range s.auditKinds(t, u.ID) {
		if k == "refresh_token_reuse" {
			reuses++
		}
	}
	if reuses != 1 {
		t.Errorf("%d refresh_token_reuse events for one burst, want 1", reuses)
	}
	if n := s.mailJobs(t, u.Email, "refresh_reuse"); n != 1 {
		t.Errorf("%d alert emails for one burst, want 1", n)
	}
}
