package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// TestRevocationAndIntrospection pins revocation (RFC 7009) and
// introspection (RFC 7662) together: a revoked token introspects inactive, a
// revoked refresh token takes its access tokens with it, only the owning
// client may revoke, and only an authenticated confidential client may
// introspect.
func TestRevocationAndIntrospection(t *testing.T) {
	f := startOIDC(t)
	s, public, basic, post, service := f.s, f.public, f.basic, f.post, f.service

	t.Run("case=revocation then introspection is inactive", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := basic.login(t, b, u, allScopes, nil)
		status, body := s.post(t, "/oauth2/revoke", basic.auth(url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}))
		if status != http.StatusOK {
			t.Fatalf("revoke access token: %s", describe(status, body))
		}
		if s.active(t, tok.AccessToken) {
			t.Error("revoked access token is active")
		}

		tok = basic.login(t, b, u, allScopes, nil)
		if !s.active(t, tok.RefreshToken) {
			t.Error("a fresh refresh token introspects inactive")
		}
		// Another client cannot revoke it.
		s.post(t, "/oauth2/revoke", post.auth(url.Values{"token": {tok.RefreshToken}}))
		if !s.active(t, tok.AccessToken) {
			t.Error("another client revoked the grant")
		}
		status, body = s.post(t, "/oauth2/revoke", basic.auth(url.Values{"token": {tok.RefreshToken}}))
		if status != http.StatusOK {
			t.Fatalf("revoke refresh token: %s", describe(status, body))
		}
		if s.active(t, tok.AccessToken) {
			t.Error("access token of a revoked refresh token is active")
		}
		if s.active(t, tok.RefreshToken) {
			t.Error("revoked refresh token introspects active")
		}
		if status, body := basic.refresh(t, tok.RefreshToken); status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Errorf("revoked refresh token: %s, want 400 invalid_grant", describe(status, body))
		}
		// A public client revokes its own tokens with its client_id.
		tok = public.login(t, b, u, allScopes, nil)
		if status, body := s.post(t, "/oauth2/revoke", public.auth(url.Values{"token": {tok.RefreshToken}})); status != http.StatusOK {
			t.Errorf("public client revokes: %s", describe(status, body))
		}
		if s.active(t, tok.AccessToken) {
			t.Error("public client's revocation left the access token active")
		}
		// Unknown tokens are not an error (RFC 7009 section 2.2).
		if status, body := s.post(t, "/oauth2/revoke", basic.auth(url.Values{"token": {"no-such-token"}})); status != http.StatusOK {
			t.Errorf("revoke unknown token: %s", describe(status, body))
		}
		if status, body := s.post(t, "/oauth2/revoke", postOpt{form: url.Values{"token": {tok.AccessToken}}}); status != http.StatusUnauthorized && status != http.StatusBadRequest {
			t.Errorf("unauthenticated revocation: %s", describe(status, body))
		}
	})

	t.Run("case=introspection requires client authentication", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := public.login(t, s.browser(), u, allScopes, nil)
		form := url.Values{"token": {tok.AccessToken}}
		for name, o := range map[string]postOpt{
			"bearer token alone": {form: form, bearer: tok.AccessToken},
			"no authentication":  {form: form},
			"wrong secret":       {form: form, user: s.rs.client.ID, pass: "wrong"},
			"public client id":   {form: withValues(form, "client_id", public.client.ID)},
			"client_credentials bearer": {form: form, bearer: func() string {
				_, at := s.rsToken(t, service)
				return at
			}()},
		} {
			status, body := s.post(t, "/oauth2/introspect", o)
			if status != http.StatusUnauthorized || body["active"] != nil {
				t.Errorf("%s: %s, want 401 without an answer", name, describe(status, body))
			}
		}
		body := s.introspect(t, tok.AccessToken)
		if body["active"] != true || claim(body, "client_id") != public.client.ID || claim(body, "sub") != u.ID {
			t.Errorf("introspection: %v", body)
		}
		if scope, ok := body["scope"].(string); !ok || !strings.Contains(scope, "openid") {
			t.Errorf("introspection scope = %#v", body["scope"])
		}
		if s.active(t, "not-a-token") {
			t.Error("garbage introspects active")
		}
	})
}

// TestIntrospectionSaysWhatTheTokenIs pins that introspection tells an
// access token from a refresh token (token_use, token_type Bearer only for
// access tokens) and gives each its own expiry, so a resource server that
// checks token_type cannot take a refresh token for a bearer token.
func TestIntrospectionSaysWhatTheTokenIs(t *testing.T) {
	s := startServer(t, nil)
	u := s.user(t, "user")
	rp := s.client(t, clients.Metadata{Scope: "openid offline_access", TokenEndpointAuthMethod: "client_secret_basic"})
	tok := rp.login(t, s.browser(), u, []string{"openid", "offline_access"}, nil)

	at := s.introspect(t, tok.AccessToken)
	if at["active"] != true || at["token_use"] != "access_token" || at["token_type"] != "Bearer" || at["iss"] != s.URL || at["sub"] != u.ID || at["client_id"] != rp.client.ID {
		t.Fatalf("access token: %v", at)
	}
	if aud, _ := at["aud"].([]any); len(aud) != 1 || aud[0] != s.URL+"/userinfo" {
		t.Errorf("access token aud: %v", at["aud"])
	}
	rt := s.introspect(t, tok.RefreshToken)
	if rt["active"] != true || rt["token_use"] != "refresh_token" || rt["token_type"] != nil {
		t.Fatalf("refresh token: %v", rt)
	}
	atExp, _ := at["exp"].(float64)
	rtExp, _ := rt["exp"].(float64)
	if atExp == 0 || rtExp <= atExp {
		t.Errorf("each token has its own expiry: access %v, refresh %v", atExp, rtExp)
	}
}

// TestIntrospectionReleasesTheUsernameOnlyWithEmail pins that introspection
// discloses no more than the grant: the username is the email address,
// released only under the email scope (#11, weakness 1).
func TestIntrospectionReleasesTheUsernameOnlyWithEmail(t *testing.T) {
	s := startServer(t, nil)
	rp := s.client(t, clients.Metadata{Scope: "openid email", TokenEndpointAuthMethod: "client_secret_basic"})
	u := s.user(t, "user")
	without := s.introspect(t, rp.login(t, s.browser(), u, []string{"openid"}, nil).AccessToken)
	if without["active"] != true || without["username"] != nil {
		t.Fatalf("without the email scope: %v", without)
	}
	with := s.introspect(t, rp.login(t, s.browser(), u, []string{"openid", "email"}, nil).AccessToken)
	if with["username"] != u.Email {
		t.Fatalf("with the email scope: %v", with)
	}
}
