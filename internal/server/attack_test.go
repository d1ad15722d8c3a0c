package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// TestAttack plays an attacker, or a sloppy client, against the protocol
// endpoints: codes, refresh and access tokens presented where they do not
// belong, forged JWTs, parameters smuggled into a flow, and malformed
// input. Each subtest names the property it pins. The subtests share one
// server; each uses users of its own.
func TestAttack(t *testing.T) {
	s := startServer(t, nil)
	scopes := []string{"openid", "email", "offline_access"}
	public := s.client(t, clients.Metadata{
		ClientName: "Public", TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid email offline_access",
		PostLogoutRedirectURIs: []string{"https://public.example.com/signed-out"},
	})
	other := s.client(t, clients.Metadata{ClientName: "Other public", TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid email offline_access"})
	basic := s.client(t, clients.Metadata{ClientName: "Basic", TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid email offline_access"})
	post := s.client(t, clients.Metadata{ClientName: "Post", TokenEndpointAuthMethod: storage.AuthMethodPost, Scope: "openid email offline_access"})
	service := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	steps := func(u storage.User) flowSteps {
		return flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}
	}
	// codeOf runs a flow for rp and returns its code, not exchanged.
	codeOf := func(t *testing.T, rp *relyingParty, b *browser, u storage.User, params map[string]string) (string, authRequest) {
		t.Helper()
		ar := rp.authURL(scopes, params)
		return b.authorize(t, ar.URL, steps(u)).code(t, s, ar.State), ar
	}
	exchange := func(t *testing.T, rp *relyingParty, code, redirect, verifier string) (int, map[string]any) {
		t.Helper()
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
		if verifier != "" {
			form.Set("code_verifier", verifier)
		}
		return rp.tokenRequest(t, form)
	}
	invalidGrant := func(t *testing.T, what string, status int, body map[string]any) {
		t.Helper()
		if status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Errorf("%s: %s, want 400 invalid_grant", what, describe(status, body))
		}
	}

	t.Run("case=a code is redeemed only by the client it was issued to", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		code, ar := codeOf(t, basic, b, u, nil)
		for _, thief := range []*relyingParty{post, public, other} {
			status, body := exchange(t, thief, code, basic.conf.RedirectURL, ar.Verifier)
			invalidGrant(t, "code of "+basic.client.ID+" redeemed by "+thief.client.TokenEndpointAuthMethod+" client", status, body)
		}
		// A public client's code too, by another public client that knows
		// the verifier.
		code, ar = codeOf(t, public, b, u, nil)
		status, body := exchange(t, other, code, public.conf.RedirectURL, ar.Verifier)
		invalidGrant(t, "public client's code redeemed by another public client", status, body)
		status, body = exchange(t, public, code, public.conf.RedirectURL, ar.Verifier)
		if status != http.StatusOK {
			t.Errorf("the rightful exchange after the thieves': %s", describe(status, body))
		}
	})

	t.Run("case=a code is bound to its redirect_uri", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		two := s.client(t, clients.Metadata{
			TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid email offline_access",
			RedirectURIs: []string{"https://two.example.com/a", "https://two.example.com/b"},
		})
		code, ar := codeOf(t, two, s.browser(), u, nil)
		for _, redirect := range []string{"https://two.example.com/b", "", "https://two.example.com/a/", "https://TWO.example.com/a"} {
			status, body := exchange(t, two, code, redirect, ar.Verifier)
			invalidGrant(t, "exchange with redirect_uri "+redirect, status, body)
		}
	})

	t.Run("case=a flow that started with PKCE finishes with it, however often the code is tried", func(t *testing.T) {
		// Each failed attempt must leave the code's challenge in place: a
		// later attempt without code_verifier must not pass as a flow that
		// never used PKCE (RFC 9700 section 4.8.2).
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		for _, rp := range []*relyingParty{basic, post} {
			code, ar := codeOf(t, rp, b, u, nil)
			for i, v := range []string{"", oauth2.GenerateVerifier(), "", ""} {
				status, body := exchange(t, rp, code, rp.conf.RedirectURL, v)
				invalidGrant(t, rp.client.TokenEndpointAuthMethod+": attempt "+string(rune('1'+i))+" without the right verifier", status, body)
				if status == http.StatusOK {
					break
				}
			}
			status, body := exchange(t, rp, code, rp.conf.RedirectURL, ar.Verifier)
			if status == http.StatusOK && claim(body, "access_token") == "" {
				t.Errorf("exchange with the right verifier: %s", describe(status, body))
			}
		}
	})

	t.Run("case=a code after its lifetime is refused", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		code, ar := codeOf(t, basic, s.browser(), u, nil)
		key := "latch:code:" + code[strings.LastIndexByte(code, '.')+1:]
		raw, err := s.rdb.Get(t.Context(), key).Bytes()
		if err != nil {
			t.Fatalf("code record %s: %v", key, err)
		}
		// Age the code as time would: its session's expiry in the past.
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
		aged := false
		var walk func(v any)
		walk = func(v any) {
			m, ok := v.(map[string]any)
			if !ok {
				return
			}
			for k, x := range m {
				if k == "expires_at" {
					if e, ok := x.(map[string]any); ok {
						e["authorize_code"] = past
						aged = true
					}
				}
				walk(x)
			}
		}
		walk(rec)
		if !aged {
			t.Fatalf("no code expiry in %s", raw)
		}
		raw, _ = json.Marshal(rec)
		if err := s.rdb.Set(t.Context(), key, raw, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		status, body := exchange(t, basic, code, basic.conf.RedirectURL, ar.Verifier)
		invalidGrant(t, "expired code", status, body)
	})

	t.Run("case=an ID token has no nonce when the request had none", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		code, ar := codeOf(t, basic, s.browser(), u, map[string]string{"nonce": ""})
		status, body := exchange(t, basic, code, basic.conf.RedirectURL, ar.Verifier)
		if status != http.StatusOK {
			t.Fatalf("exchange: %s", describe(status, body))
		}
		_, claims := s.verifyJWT(t, claim(body, "id_token"))
		if _, ok := claims["nonce"]; ok {
			t.Errorf("ID token nonce %v, want none", claims["nonce"])
		}
	})

	t.Run("case=every error redirect carries state and iss, in the query", func(t *testing.T) {
		// Errors found before login redirect at once, the others after
		// it; fosite refuses a few before it trusts the redirect URI, with
		// an error page. Either way no code, and a redirect carries the
		// request's state and iss (RFC 9207) in the query.
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		host := mustURL(t, public.conf.RedirectURL).Host
		for name, params := range map[string]map[string]string{
			"implicit":                {"response_type": "token"},
			"hybrid":                  {"response_type": "code id_token"},
			"fragment response mode":  {"response_mode": "fragment"},
			"form_post response mode": {"response_mode": "form_post"},
			"unregistered scope":      {"scope": "openid admin"},
			"plain PKCE":              {"code_challenge_method": "plain"},
			"no PKCE, public client":  {"code_challenge": "", "code_challenge_method": ""},
			"prompt=none, no session": {"prompt": "none"},
			"prompt=none and login":   {"prompt": "none login"},
			"unknown prompt":          {"prompt": "select_account"},
			"audience":                {"audience": "https://api.evil.example"},
			"request object":          {"request": "eyJhbGciOiJub25lIn0.e30."},
			"registration":            {"registration": "{}"},
			"short nonce":             {"nonce": "n"},
			"short state":             {"state": "s"},
		} {
			ar := public.authURL(scopes, params)
			if params["state"] != "" {
				ar.State = params["state"]
			}
			res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "deny"})
			if res.Callback == nil {
				if res.Last.Status != http.StatusBadRequest || res.SawLogin {
					t.Errorf("%s: stopped at %s %d, want an error page or an error redirect", name, res.Last.URL, res.Last.Status)
				}
				continue
			}
			q := res.Callback.Query()
			if res.Callback.Host != host || q.Get("error") == "" || q.Get("code") != "" || res.Callback.Fragment != "" {
				t.Errorf("%s: %s, want an error in the query of the client's redirect URI, and no code", name, res.Callback)
			}
			mustEqual(t, name+": state", q.Get("state"), ar.State)
			mustEqual(t, name+": iss", q.Get("iss"), s.URL)
		}
	})

	t.Run("case=an untrusted redirect_uri or unknown client gets an error page", func(t *testing.T) {
		b := s.browser()
		reg := public.conf.RedirectURL // https://<id>.example.com/callback
		for _, uri := range []string{
			"https://evil.example.com/callback",
			reg + "/", reg + "?a=b", reg + "#x", reg + "%2F..", reg + "/../callback",
			strings.Replace(reg, "/callback", "/Callback", 1),
			strings.Replace(reg, "https://", "https://user@", 1),
			strings.Replace(reg, ".example.com", ".example.com.evil.example", 1),
			strings.Replace(reg, ".example.com/", ".example.com:8443/", 1),
			" " + reg, reg + "%00", "//evil.example.com/callback", "javascript:alert(1)",
		} {
			p := b.get(t, public.authURL(scopes, map[string]string{"redirect_uri": uri}).URL)
			if p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("redirect_uri %q: %d Location %v, want a 400 page", uri, p.Status, p.Location)
			}
			noLeak(t, "redirect_uri "+uri, p.Body)
		}
		for _, id := range []string{"no-such-client", public.client.ID + " ", strings.ToUpper(public.client.ID)} {
			p := b.get(t, public.authURL(scopes, map[string]string{"client_id": id}).URL)
			if p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("client_id %q with a valid-looking redirect_uri: %d Location %v, want a 400 page", id, p.Status, p.Location)
			}
		}
	})

	t.Run("case=post_logout_redirect_uri is matched character for character", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := public.login(t, b, u, scopes, nil)
		reg := "https://public.example.com/signed-out"
		for _, uri := range []string{
			"https://PUBLIC.example.com/signed-out", reg + "/", reg + "?next=https://evil.example", reg + "#x",
			"https://public.example.com/Signed-out", "https://public.example.com/signed%2Dout",
			"https://public.example.com/signed-out/../../evil", "https://public.example.com@evil.example/signed-out",
			"https://evil.example/signed-out", "http://public.example.com/signed-out", " " + reg, reg + "%00", "//evil.example",
		} {
			for name, q := range map[string]url.Values{
				"hint":      {"id_token_hint": {tok.RawIDToken}, "post_logout_redirect_uri": {uri}},
				"client_id": {"client_id": {public.client.ID}, "post_logout_redirect_uri": {uri}},
			} {
				p := b.get(t, s.URL+"/oauth2/logout?"+q.Encode())
				if p.Status != http.StatusBadRequest || p.Location != nil {
					t.Errorf("%s, post_logout_redirect_uri %q: %d Location %v, want a 400 page", name, uri, p.Status, p.Location)
				}
			}
		}
		// The session survived every refused attempt.
		ar := public.authURL(scopes, map[string]string{"prompt": "none"})
		b.authorize(t, ar.URL, flowSteps{}).code(t, s, ar.State)
	})

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

	t.Run("case=revoking the app on the account page ends its refresh and access tokens", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := basic.login(t, s.browser(), u, scopes, nil)
		keep := post.login(t, s.browser(), u, scopes, nil)
		if err := s.Server.provider.RevokeClientGrant(t.Context(), u.ID, basic.client.ID); err != nil {
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
		// The session survived.
		ar := public.authURL(scopes, map[string]string{"prompt": "none"})
		b.authorize(t, ar.URL, flowSteps{}).code(t, s, ar.State)
	})

	t.Run("case=parameters added at resume change nothing", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		ar := basic.authURL([]string{"openid"}, nil)
		res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword})
		if !res.SawConsent {
			t.Fatalf("no consent page: %s %d", res.Last.URL, res.Last.Status)
		}
		p := b.submit(t, res.Last.formWith(t, "decision"), nil, [2]string{"decision", "allow"})
		if p.Location == nil || p.Location.Path != "/oauth2/auth/resume" {
			t.Fatalf("consent: %d Location %v, want the resume endpoint", p.Status, p.Location)
		}
		resume := *p.Location
		// POST is no way in.
		if r := b.post(t, resume.String(), url.Values{"scope": {"openid email offline_access"}}); r.Status != http.StatusMethodNotAllowed && r.Location != nil {
			t.Errorf("POST to resume: %d Location %v", r.Status, r.Location)
		}
		// Another browser, signed in as someone else, cannot finish it.
		intruder := s.browser()
		basic.login(t, intruder, s.user(t, storage.RoleUser), []string{"openid"}, nil)
		if r := intruder.get(t, resume.String()); r.Location != nil || r.Status != http.StatusBadRequest {
			t.Errorf("resume from another browser: %d Location %v, want a 400 page", r.Status, r.Location)
		}
		if r := s.browser().get(t, resume.String()); r.Location != nil || r.Status != http.StatusBadRequest {
			t.Errorf("resume from a browser without a session: %d Location %v, want a 400 page", r.Status, r.Location)
		}
		q := resume.Query()
		for k, v := range map[string]string{
			"scope": "openid email offline_access", "redirect_uri": "https://evil.example/cb", "client_id": post.client.ID,
			"state": "attacker-state", "response_type": "token", "code_challenge": challengeOf(authRequest{Verifier: oauth2.GenerateVerifier()}),
		} {
			q.Add(k, v)
		}
		smuggled := resume
		smuggled.RawQuery = q.Encode() + "&flow=another"
		p = b.get(t, smuggled.String())
		if p.Location == nil || p.Location.Host != mustURL(t, basic.conf.RedirectURL).Host {
			t.Fatalf("smuggled resume: %d Location %v", p.Status, p.Location)
		}
		code := flowResult{Callback: p.Location}.code(t, s, ar.State)
		out := basic.exchange(t, code, ar)
		if out.Claims["email"] != nil || out.RefreshToken != "" {
			t.Errorf("smuggled scopes were granted: %v, refresh token %t", out.Claims, out.RefreshToken != "")
		}
		// Replayed after the code was issued: an error page.
		if r := b.get(t, resume.String()); r.Location != nil || r.Status != http.StatusBadRequest {
			t.Errorf("replayed resume: %d Location %v, want a 400 page", r.Status, r.Location)
		}
	})

	t.Run("case=a consent page of another browser's flow is refused", func(t *testing.T) {
		victim, attacker := s.user(t, storage.RoleUser), s.user(t, storage.RoleUser)
		b := s.browser()
		ar := post.authURL(scopes, nil)
		res := b.authorize(t, ar.URL, flowSteps{Email: victim.Email, Password: testPassword})
		if !res.SawConsent {
			t.Fatalf("no consent page: %s", res.Last.URL)
		}
		intruder := s.browser()
		post.login(t, intruder, attacker, []string{"openid"}, nil)
		if p := intruder.get(t, res.Last.URL.String()); p.Status != http.StatusForbidden && p.Status != http.StatusBadRequest {
			t.Errorf("another browser's consent page: %d, want refused", p.Status)
		}
	})

	t.Run("case=max_age=0 asks for the password again", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		first := basic.login(t, b, u, scopes, nil)
		ar := basic.authURL(scopes, map[string]string{"max_age": "0"})
		res := b.authorize(t, ar.URL, steps(u))
		if !res.SawLogin {
			t.Error("max_age=0 did not ask for the password")
		}
		tok := basic.exchange(t, res.code(t, s, ar.State), ar)
		if tok.Claims["auth_time"].(float64) < first.Claims["auth_time"].(float64) {
			t.Errorf("auth_time went back: %v < %v", tok.Claims["auth_time"], first.Claims["auth_time"])
		}
	})

	t.Run("case=pushed requests: no nesting, no implicit, one use, one client", func(t *testing.T) {
		push := func(t *testing.T, rp *relyingParty, params map[string]string) (int, map[string]any) {
			t.Helper()
			u, _ := url.Parse(rp.authURL(scopes, params).URL)
			return s.post(t, "/oauth2/par", rp.auth(u.Query()))
		}
		for name, params := range map[string]map[string]string{
			"request_uri inside":      {"request_uri": "urn:ietf:params:oauth:request_uri:abc"},
			"response_type=token":     {"response_type": "token"},
			"unregistered redirect":   {"redirect_uri": "https://evil.example/cb"},
			"public client, no PKCE":  {"code_challenge": "", "code_challenge_method": ""},
			"response_mode=form_post": {"response_mode": "form_post"},
		} {
			if status, body := push(t, public, params); status != http.StatusBadRequest || oauthError(body) == "" {
				t.Errorf("push with %s: %s, want a 400 error", name, describe(status, body))
			}
		}
		// The pushed parameters win over those sent along with the
		// request_uri; the request_uri works once and for its client.
		u := s.user(t, storage.RoleUser)
		status, body := push(t, public, map[string]string{"scope": "openid", "state": "pushed-state-123"})
		uri := claim(body, "request_uri")
		if status != http.StatusCreated || uri == "" {
			t.Fatalf("push: %s", describe(status, body))
		}
		for _, id := range []string{other.client.ID, ""} {
			q := url.Values{"client_id": {id}, "request_uri": {uri}}
			if p := s.browser().get(t, s.URL+"/oauth2/auth?"+q.Encode()); p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("request_uri with client_id %q: %d Location %v, want a 400 page", id, p.Status, p.Location)
			}
		}
		status, body = push(t, public, map[string]string{"scope": "openid", "state": "pushed-state-123"})
		uri = claim(body, "request_uri")
		if status != http.StatusCreated {
			t.Fatalf("push: %s", describe(status, body))
		}
		q := url.Values{"client_id": {public.client.ID}, "request_uri": {uri}, "scope": {"openid email offline_access"},
			"redirect_uri": {"https://evil.example/cb"}, "state": {"attacker-state"}}
		res := s.browser().authorize(t, s.URL+"/oauth2/auth?"+q.Encode(), steps(u))
		cb := res.callbackQuery(t, s, "pushed-state-123")
		if res.Callback.Host == "evil.example" || cb.Get("code") == "" {
			t.Fatalf("pushed request: %s", res.Callback)
		}
		if p := s.browser().get(t, s.URL+"/oauth2/auth?"+url.Values{"client_id": {public.client.ID}, "request_uri": {uri}}.Encode()); p.Status != http.StatusBadRequest || p.Location != nil {
			t.Errorf("a used request_uri: %d Location %v, want a 400 page", p.Status, p.Location)
		}
		for _, bad := range []string{"https://evil.example/req", "urn:ietf:params:oauth:request_uri:nope", uri + "x"} {
			q := url.Values{"client_id": {public.client.ID}, "request_uri": {bad}}
			if p := s.browser().get(t, s.URL+"/oauth2/auth?"+q.Encode()); p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("request_uri %q: %d Location %v, want a 400 page", bad, p.Status, p.Location)
			}
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

	t.Run("case=repeated authorization parameters are invalid_request", func(t *testing.T) {
		// RFC 6749 sections 3.1 and 4.1.2.1.
		b := s.browser()
		for _, k := range []string{"scope", "state", "code_challenge", "prompt", "nonce", "response_type", "max_age"} {
			ar := public.authURL(scopes, map[string]string{"max_age": "3600"})
			u := mustURL(t, ar.URL)
			q := u.Query()
			v := q.Get(k)
			switch k {
			case "scope":
				v = "openid"
			case "prompt":
				v = "login"
			}
			q[k] = []string{v, v}
			u.RawQuery = q.Encode()
			p := b.get(t, u.String())
			if p.Location == nil || p.Location.Query().Get("error") != "invalid_request" {
				t.Errorf("%s twice: %d Location %v, want error=invalid_request", k, p.Status, p.Location)
			}
		}
		for _, k := range []string{"client_id", "redirect_uri"} {
			ar := public.authURL(scopes, nil)
			u := mustURL(t, ar.URL)
			q := u.Query()
			if k == "client_id" {
				q.Add(k, other.client.ID)
			} else {
				q.Add(k, "https://evil.example/cb")
			}
			u.RawQuery = q.Encode()
			p := b.get(t, u.String())
			if p.Location != nil && p.Location.Query().Get("code") != "" || p.Location != nil && p.Location.Query().Get("error") == "" {
				t.Errorf("%s twice: %d Location %v, want an error", k, p.Status, p.Location)
			}
		}
	})

	t.Run("case=hostile input never yields a 500 or internal details", func(t *testing.T) {
		b := s.browser()
		bad := []string{"\x00", "a\x00b", "\xff\xfe", "%", strings.Repeat("x", 10000), "\u202e", "' OR 1=1 --", "../../etc/passwd"}
		for _, v := range bad {
			for _, k := range []string{"client_id", "state", "redirect_uri", "scope", "nonce", "code_challenge", "prompt", "max_age", "login_hint", "request_uri"} {
				ar := public.authURL(scopes, map[string]string{k: v})
				p := b.get(t, ar.URL)
				noLeak(t, "authorize "+k, p.Body)
			}
			for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"} {
				p := b.get(t, s.URL+"/oauth2/logout?"+url.Values{k: {v}}.Encode())
				noLeak(t, "logout "+k, p.Body)
			}
			noLeak(t, "resume", b.get(t, s.URL+"/oauth2/auth/resume?"+url.Values{"flow": {v}}.Encode()).Body)
			for name, o := range map[string]postOpt{
				"token client_id":        {form: url.Values{"grant_type": {"authorization_code"}, "code": {v}, "client_id": {v}}},
				"token basic user":       {form: url.Values{"grant_type": {"client_credentials"}}, user: v, pass: v},
				"token code":             {form: url.Values{"grant_type": {"authorization_code"}, "code": {v}, "client_id": {public.client.ID}, "redirect_uri": {v}, "code_verifier": {v}}},
				"token refresh":          {form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {v}, "client_id": {public.client.ID}}},
				"token client_assertion": {form: url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {v}}},
				"introspect basic user":  {form: url.Values{"token": {v}}, user: v, pass: v},
				"introspect token":       {form: url.Values{"token": {v}, "token_type_hint": {v}}, user: s.rs.client.ID, pass: s.rs.secret},
				"revoke client_id":       {form: url.Values{"token": {v}, "client_id": {v}}},
				"revoke token":           {form: url.Values{"token": {v}, "token_type_hint": {v}, "client_id": {public.client.ID}}},
				"par client_id":          {form: url.Values{"client_id": {v}, "response_type": {"code"}}},
				"par redirect_uri":       {form: url.Values{"client_id": {post.client.ID}, "client_secret": {post.secret}, "response_type": {"code"}, "redirect_uri": {v}}},
				"userinfo access_token":  {form: url.Values{"access_token": {v}}},
			} {
				path := map[string]string{"token": "/oauth2/token", "introspect": "/oauth2/introspect", "revoke": "/oauth2/revoke", "par": "/oauth2/par", "userinfo": "/userinfo"}[strings.Fields(name)[0]]
				req := s.formRequest(t, path, o)
				r := s.send(t, req)
				if r.status >= 500 {
					t.Errorf("%s %q: %d %s", name, v, r.status, r.raw)
				}
				noLeak(t, name, r.raw)
			}
		}
		// Bodies over 64 KiB.
		big := "client_id=" + public.client.ID + "&x=" + strings.Repeat("a", 100<<10)
		for _, path := range []string{"/oauth2/auth", "/oauth2/logout", "/oauth2/par", "/oauth2/revoke", "/oauth2/introspect", "/userinfo"} {
			req := s.request(t, http.MethodPost, path, strings.NewReader(big))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r := s.send(t, req)
			if r.status >= 500 || r.status < 400 {
				t.Errorf("POST %s with a huge body: %d", path, r.status)
			}
			noLeak(t, "huge body at "+path, r.raw)
		}
	})
}

// noLeak fails when an answer shows internal details: a stack trace, a
// Go error of a store, SQL.
func noLeak(t *testing.T, what, body string) {
	t.Helper()
	for _, bad := range []string{"goroutine ", ".go:", "panic", "SQLSTATE", "postgres:", "pgx", "redis:", "flow: decode", "runtime error"} {
		if strings.Contains(body, bad) {
			t.Errorf("%s: the answer shows %q: %.300s", what, bad, body)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// jwtHeader is an empty fosite header.
type jwtHeader struct{}

func (jwtHeader) ToMap() map[string]any { return map[string]any{} }
func (jwtHeader) Add(string, any)       {}
func (jwtHeader) Get(string) any        { return nil }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwtPart(v any) string {
	b, _ := json.Marshal(v)
	return b64(b)
}

// splitJWT returns a JWT's header and raw payload.
func splitJWT(t *testing.T, token string) (map[string]any, []byte) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]any{}
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	return h, p
}

// signRS256 signs payload with a fresh RSA key under header's kid and typ.
func signRS256(t *testing.T, h map[string]any, payload []byte) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	opts := &jose.SignerOptions{}
	for name, v := range h {
		if name != "alg" {
			opts.WithHeader(jose.HeaderKey(name), v)
		}
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
