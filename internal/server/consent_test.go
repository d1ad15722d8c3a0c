package server

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// TestConsent pins when the consent page is shown: once per set of scopes
// and remembered until more are asked, never for a first-party client; a
// denial goes back as access_denied and is not remembered; a client asks
// only for the scopes registered for it; a third-party client gets a refresh
// token only with offline_access.
func TestConsent(t *testing.T) {
	f := startOIDC(t)
	s, public, post, firstParty := f.s, f.public, f.post, f.firstParty

	t.Run("case=consent is remembered until more scopes are asked", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		steps := flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}
		for i, c := range []struct {
			scopes      []string
			wantConsent bool
		}{
			{[]string{"openid", "profile"}, true},
			{[]string{"openid", "profile"}, false},
			{[]string{"openid"}, false},
			{[]string{"openid", "profile", "email"}, true},
			{[]string{"openid", "email"}, false},
		} {
			ar := post.authURL(c.scopes, nil)
			res := b.authorize(t, ar.URL, steps)
			if res.SawConsent != c.wantConsent {
				t.Errorf("request %d (%v): consent page shown %v, want %v", i, c.scopes, res.SawConsent, c.wantConsent)
			}
			post.exchange(t, res.code(t, s, ar.State), ar)
		}
	})

	t.Run("case=consent denied redirects with access_denied", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		ar := public.authURL(allScopes, nil)
		res := s.browser().authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "deny"})
		if q := res.callbackQuery(t, s, ar.State); q.Get("error") != "access_denied" || q.Get("code") != "" {
			t.Errorf("deny: %s, want error=access_denied", res.Callback)
		}
		// A denial is not remembered as consent.
		b := s.browser()
		b.authorize(t, public.authURL(allScopes, nil).URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "deny"})
		ar = public.authURL(allScopes, map[string]string{"prompt": "none"})
		if q := b.authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State); q.Get("error") != "consent_required" {
			t.Errorf("after a denial prompt=none gives %v, want consent_required", q)
		}
	})

	t.Run("case=custom scopes registered per client", func(t *testing.T) {
		api := s.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid api:read api:write"})
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := api.login(t, b, u, []string{"openid", "api:read"}, nil)
		_, c := s.verifyJWT(t, tok.AccessToken)
		got := strings.Fields(claim(c, "scope"))
		slices.Sort(got)
		mustEqualSlice(t, "scope", got, []string{"api:read", "openid"})
		// Another client's scopes are not this one's.
		ar := public.authURL([]string{"openid", "api:read"}, nil)
		if q := b.authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State); q.Get("error") != "invalid_scope" {
			t.Errorf("unregistered custom scope: %v, want error=invalid_scope", q)
		}
	})

	t.Run("case=first-party client skips consent and gets a refresh token", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		scopes := []string{"openid", "profile"}
		ar := firstParty.authURL(scopes, nil)
		res := s.browser().authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword})
		if res.SawConsent {
			t.Error("consent page shown for a first-party client")
		}
		tok := firstParty.exchange(t, res.code(t, s, ar.State), ar)
		if tok.RefreshToken == "" {
			t.Fatal("first-party client got no refresh token")
		}
		if status, body := firstParty.refresh(t, tok.RefreshToken); status != http.StatusOK {
			t.Errorf("first-party refresh: %s", describe(status, body))
		}
	})

	t.Run("case=third-party refresh token only with offline_access", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := public.login(t, b, u, []string{"openid", "profile"}, nil)
		if tok.RefreshToken != "" {
			t.Error("refresh token issued without offline_access")
		}
		tok = public.login(t, b, u, allScopes, nil)
		if tok.RefreshToken == "" {
			t.Error("no refresh token with offline_access")
		}
	})
}
