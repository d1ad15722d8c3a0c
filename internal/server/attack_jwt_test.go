package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
)

// TestAttackForgedJWTs presents forged JWTs (alg none, HMAC keyed with the
// public key, an unknown kid, another key under a published kid) and tokens
// latch signed for something else, at userinfo, introspection and logout:
// all are refused, and the session survives. At the authorization endpoint
// the forged ID tokens are refused as id_token_hint too.
func TestAttackForgedJWTs(t *testing.T) {
	a := startAttack(t)
	s, scopes, public := a.s, a.scopes, a.public

	t.Run("case=forged JWTs are refused at userinfo, introspection and logout", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := public.login(t, b, u, scopes, nil)
		set := s.jwks(t)
		kid := set.Keys[0].KeyID
		pub := set.Keys[0].Key
		forged := map[string]func(header map[string]any, payload []byte) string{
			"alg none": func(h map[string]any, p []byte) string {
				h["alg"] = "none"
				return jwtPart(h) + "." + b64(p) + "."
			},
			"HS256 keyed with the public key": func(h map[string]any, p []byte) string {
				h["alg"] = "HS256"
				der, _ := x509.MarshalPKIXPublicKey(pub)
				in := jwtPart(h) + "." + b64(p)
				mac := hmac.New(sha256.New, der)
				mac.Write([]byte(in))
				return in + "." + b64(mac.Sum(nil))
			},
			"kid naming nothing": func(h map[string]any, p []byte) string {
				h["kid"] = "no-such-key"
				return signRS256(t, h, p)
			},
			"another key under a published kid": func(h map[string]any, p []byte) string {
				return signRS256(t, h, p)
			},
		}
		for name, forge := range forged {
			for what, real := range map[string]string{"access token": tok.AccessToken, "ID token": tok.RawIDToken} {
				h, p := splitJWT(t, real)
				h["kid"] = kid
				token := forge(h, p)
				if what == "access token" {
					if status, _ := s.userinfo(t, http.MethodGet, token); status != http.StatusUnauthorized {
						t.Errorf("%s access token at userinfo: %d, want 401", name, status)
					}
					if s.active(t, token) {
						t.Errorf("%s access token introspects as active", name)
					}
					continue
				}
				q := url.Values{"id_token_hint": {token}, "post_logout_redirect_uri": {"https://public.example.com/signed-out"}}
				if p := b.get(t, s.URL+"/oauth2/logout?"+q.Encode()); p.Status != http.StatusBadRequest || p.Location != nil {
					t.Errorf("%s id_token_hint: %d Location %v, want a 400 page", name, p.Status, p.Location)
				}
				ar := public.authURL(scopes, map[string]string{"prompt": "none", "id_token_hint": token})
				if q := b.authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State); q.Get("error") != "invalid_request" || q.Get("code") != "" {
					t.Errorf("%s id_token_hint at authorize: %v, want invalid_request", name, q)
				}
			}
		}
		// Signed by latch but not an ID token: an access token as hint, and
		// an ID token claiming another issuer.
		foreign, _, err := s.keys.Signer("RS256").Generate(t.Context(), map[string]any{
			"iss": "https://evil.example", "sub": u.ID, "aud": public.client.ID, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
		}, &jwtHeader{})
		if err != nil {
			t.Fatal(err)
		}
		for name, hint := range map[string]string{"access token": tok.AccessToken, "another issuer's ID token": foreign} {
			q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://public.example.com/signed-out"}}
			if p := b.get(t, s.URL+"/oauth2/logout?"+q.Encode()); p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("%s as id_token_hint: %d Location %v, want a 400 page", name, p.Status, p.Location)
			}
		}
		if status, _ := s.userinfo(t, http.MethodGet, foreign); status != http.StatusUnauthorized {
			t.Errorf("latch-signed token of another issuer at userinfo: %d, want 401", status)
		}
		// At the authorization endpoint an expired ID token of the signed-in
		// user is still a hint (OIDC Core 3.1.2.1); another user's is not.
		hint := func(sub string, exp time.Time) string {
			tok, _, err := s.keys.Signer("RS256").Generate(t.Context(), map[string]any{
				"iss": s.URL, "sub": sub, "aud": public.client.ID, "exp": exp.Unix(), "iat": exp.Add(-time.Hour).Unix(),
			}, &jwtHeader{})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		for name, c := range map[string]struct{ hint, wantError string }{
			"an expired ID token of the user": {hint(u.ID, time.Now().Add(-time.Minute)), ""},
			"another user's ID token":         {hint(s.user(t, storage.RoleUser).ID, time.Now().Add(time.Hour)), "login_required"},
		} {
			ar := public.authURL(scopes, map[string]string{"prompt": "none", "id_token_hint": c.hint})
			if q := b.authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State); q.Get("error") != c.wantError || (c.wantError == "") != (q.Get("code") != "") {
				t.Errorf("%s as id_token_hint at authorize: %v, want error %q", name, q, c.wantError)
			}
		}
		// The session survived.
		ar := public.authURL(scopes, map[string]string{"prompt": "none"})
		b.authorize(t, ar.URL, flowSteps{}).code(t, s, ar.State)
	})
}
