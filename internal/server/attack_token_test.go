package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-idp/latch/storage"
)

// TestAttackTokens plays an attacker with tokens in hand: a refresh token
// works only for its client and never widens its scope, a token is taken
// only as what it is, audience and resource cannot stretch a token, and a
// disabled user gets nothing more.
func TestAttackTokens(t *testing.T) {
	a := startAttack(t)
	s, scopes, public, basic, post, service, codeOf, exchange := a.s, a.scopes, a.public, a.basic, a.post, a.service, a.codeOf, a.exchange

	t.Run("case=a refresh token works only for its client and cannot widen its scope", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := basic.login(t, s.browser(), u, []string{"openid", "offline_access"}, nil)
		for _, thief := range []*relyingParty{post, public} {
			status, body := thief.refresh(t, tok.RefreshToken)
			invalidGrant(t, "refresh token of another client", status, body)
		}
		// Asking for more than was granted is invalid_scope (RFC 6749
		// section 6), and the token is not spent by the refusal.
		status, body := basic.tokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"openid offline_access email"}})
		if status != http.StatusBadRequest || oauthError(body) != "invalid_scope" {
			t.Errorf("refresh asking for a scope never granted: %s, want 400 invalid_scope", describe(status, body))
		}
		if status == http.StatusOK {
			if _, claims := s.verifyJWT(t, claim(body, "access_token")); strings.Contains(claim(claims, "scope"), "email") {
				t.Errorf("refresh widened the scope to %q", claims["scope"])
			}
			return
		}
		status, body = basic.refresh(t, tok.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("the rightful refresh after the refused ones: %s", describe(status, body))
		}
		if _, claims := s.verifyJWT(t, claim(body, "access_token")); claim(claims, "scope") != "openid offline_access" {
			t.Errorf("refreshed scope %q", claims["scope"])
		}
	})

	t.Run("case=a token is accepted only as what it is", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := basic.login(t, s.browser(), u, scopes, nil)
		// A refresh token or an ID token is no bearer token.
		for name, bearer := range map[string]string{"refresh token": tok.RefreshToken, "ID token": tok.RawIDToken} {
			for _, m := range []string{http.MethodGet, http.MethodPost} {
				if status, body := s.userinfo(t, m, bearer); status != http.StatusUnauthorized {
					t.Errorf("userinfo %s with a %s: %s, want 401", m, name, describe(status, body))
				}
			}
		}
		if s.active(t, tok.RawIDToken) {
			t.Error("an ID token introspects as active")
		}
		// An access token or ID token is no refresh token.
		for name, rt := range map[string]string{"access token": tok.AccessToken, "ID token": tok.RawIDToken} {
			status, body := basic.refresh(t, rt)
			if status != http.StatusBadRequest {
				t.Errorf("refresh with a %s: %s, want 400", name, describe(status, body))
			}
		}
		// A client_credentials token names no user.
		_, cc := s.rsToken(t, service)
		if status, body := s.userinfo(t, http.MethodGet, cc); status < 400 || status >= 500 {
			t.Errorf("userinfo with a client_credentials token: %s", describe(status, body))
		}
		// The client's access token still works.
		if status, body := s.userinfo(t, http.MethodGet, tok.AccessToken); status != http.StatusOK {
			t.Errorf("userinfo with the access token: %s", describe(status, body))
		}
	})

	t.Run("case=audience and resource cannot stretch a token", func(t *testing.T) {
		for name, form := range map[string]url.Values{
			"audience": {"grant_type": {"client_credentials"}, "audience": {"https://api.evil.example"}},
			"resource": {"grant_type": {"client_credentials"}, "resource": {"https://api.evil.example"}},
		} {
			status, body := service.tokenRequest(t, form)
			if status == http.StatusOK {
				_, claims := s.verifyJWT(t, claim(body, "access_token"))
				mustEqualSlice(t, name+": aud", audienceOf(claims["aud"]), []string{service.client.ID})
			} else if status != http.StatusBadRequest {
				t.Errorf("%s: %s", name, describe(status, body))
			}
		}
		// Nor can a refresh.
		u := s.user(t, storage.RoleUser)
		tok := basic.login(t, s.browser(), u, scopes, nil)
		status, body := basic.tokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "audience": {"https://api.evil.example"}})
		if status == http.StatusOK {
			_, claims := s.verifyJWT(t, claim(body, "access_token"))
			mustEqualSlice(t, "refreshed aud", audienceOf(claims["aud"]), []string{basic.client.ID})
		}
	})

	t.Run("case=a disabled user gets nothing: no code exchange, no prompt=none, no userinfo", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := basic.login(t, b, u, scopes, nil)
		code, ar := codeOf(t, basic, b, u, nil)
		// Disabled in the database only, as by a replica without Redis:
		// what Redis still holds must not outlive the account.
		if _, err := s.store.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(x *storage.User) error {
			x.Disabled = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		status, body := exchange(t, basic, code, basic.conf.RedirectURL, ar.Verifier)
		invalidGrant(t, "code of a user disabled since", status, body)
		status, body = basic.refresh(t, tok.RefreshToken)
		invalidGrant(t, "refresh of a disabled user", status, body)
		if status, _ := s.userinfo(t, http.MethodGet, tok.AccessToken); status != http.StatusUnauthorized {
			t.Errorf("userinfo of a disabled user: %d, want 401", status)
		}
		pn := basic.authURL(scopes, map[string]string{"prompt": "none"})
		q := b.authorize(t, pn.URL, flowSteps{}).callbackQuery(t, s, pn.State)
		if q.Get("code") != "" || q.Get("error") == "" {
			t.Errorf("prompt=none with a disabled user's session: %v, want an error", q)
		}
	})
}

// TestAttackRevocationAndIntrospection pins who may revoke and introspect:
// revoking an app on the account page ends its tokens and no other app's, a
// client cannot revoke another client's tokens (RFC 7009), and only
// authenticated confidential clients may introspect, whatever the hint.
func TestAttackRevocationAndIntrospection(t *testing.T) {
	a := startAttack(t)
	s, scopes, public, other, basic, post, service := a.s, a.scopes, a.public, a.other, a.basic, a.post, a.service

	t.Run("case=revoking the app on the account page ends its refresh and access tokens", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := basic.login(t, s.browser(), u, scopes, nil)
		keep := post.login(t, s.browser(), u, scopes, nil)
		if err := s.Server.revocation.RevokeClientGrant(t.Context(), u.ID, basic.client.ID); err != nil {
			t.Fatal(err)
		}
		status, body := basic.refresh(t, tok.RefreshToken)
		invalidGrant(t, "refresh after the grant was revoked", status, body)
		if s.active(t, tok.AccessToken) {
			t.Error("access token active after the grant was revoked")
		}
		if status, _ := s.userinfo(t, http.MethodGet, tok.AccessToken); status != http.StatusUnauthorized {
			t.Errorf("userinfo after the grant was revoked: %d", status)
		}
		if !s.active(t, keep.AccessToken) {
			t.Error("the grant of another app was revoked too")
		}
	})

	t.Run("case=a client cannot revoke another client's tokens (RFC 7009)", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := public.login(t, s.browser(), u, scopes, nil)
		for _, thief := range []*relyingParty{other, basic, service} {
			for _, tt := range []struct{ token, hint string }{
				{tok.AccessToken, "access_token"}, {tok.RefreshToken, "refresh_token"},
				{tok.AccessToken, "refresh_token"}, {tok.RefreshToken, "access_token"}, {tok.AccessToken, ""},
			} {
				status, body := s.post(t, "/oauth2/revoke", thief.auth(url.Values{"token": {tt.token}, "token_type_hint": {tt.hint}}))
				if status != http.StatusBadRequest || oauthError(body) != "unauthorized_client" {
					t.Errorf("%s client revoking another client's token (hint %q): %s, want 400 unauthorized_client", thief.client.TokenEndpointAuthMethod, tt.hint, describe(status, body))
				}
			}
		}
		if !s.active(t, tok.AccessToken) || !s.active(t, tok.RefreshToken) {
			t.Fatal("another client's revocation request revoked the tokens")
		}
		// The owner may, whatever the hint says.
		status, body := s.post(t, "/oauth2/revoke", public.auth(url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"access_token"}}))
		if status != http.StatusOK {
			t.Fatalf("owner's revocation: %s", describe(status, body))
		}
		if s.active(t, tok.RefreshToken) || s.active(t, tok.AccessToken) {
			t.Error("revoking the refresh token must end the grant's tokens")
		}
	})

	t.Run("case=introspection: only authenticated confidential clients, hints are only hints", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := basic.login(t, s.browser(), u, scopes, nil)
		for _, hint := range []string{"", "access_token", "refresh_token", "bogus"} {
			for _, token := range []string{tok.AccessToken, tok.RefreshToken} {
				status, body := s.post(t, "/oauth2/introspect", s.rs.auth(url.Values{"token": {token}, "token_type_hint": {hint}}))
				if status != http.StatusOK || body["active"] != true {
					t.Errorf("introspection with hint %q: %s", hint, describe(status, body))
				}
			}
		}
		// A public client has no secret to authenticate with.
		for name, o := range map[string]postOpt{
			"public client, Basic without a secret": {form: url.Values{"token": {tok.AccessToken}}, user: public.client.ID},
			"public client, client_id in the form":  {form: url.Values{"token": {tok.AccessToken}, "client_id": {public.client.ID}}},
			"the token itself as bearer":            {form: url.Values{"token": {tok.RefreshToken}}, bearer: tok.AccessToken},
		} {
			r := s.send(t, s.formRequest(t, "/oauth2/introspect", o))
			if r.status == http.StatusOK && r.body["active"] == true {
				t.Errorf("%s: introspection answered %s", name, r.raw)
			}
		}
	})
}
