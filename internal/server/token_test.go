package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// TestTokenEndpoint pins the token endpoint as a client sees it: CORS for
// the allowed browser origin only, client_credentials tokens, 401
// invalid_client with a Basic challenge for bad client authentication, and
// RFC 6749 JSON errors, never a 500, for whatever is sent.
func TestTokenEndpoint(t *testing.T) {
	f := startOIDC(t)
	s, public, basic, post, service := f.s, f.public, f.basic, f.post, f.service

	t.Run("case=the SPA's origin may call the token endpoint from a browser", func(t *testing.T) {
		for origin, want := range map[string]string{spaOrigin: spaOrigin, "https://evil.example.com": ""} {
			pre := s.request(t, http.MethodOptions, "/oauth2/token", nil)
			pre.Header.Set("Origin", origin)
			pre.Header.Set("Access-Control-Request-Method", http.MethodPost)
			if r := s.send(t, pre); r.status >= 300 || r.header.Get("Access-Control-Allow-Origin") != want {
				t.Errorf("preflight from %s: %d Allow-Origin %q, want %q", origin, r.status, r.header.Get("Access-Control-Allow-Origin"), want)
			}
			req := s.formRequest(t, "/oauth2/token", public.auth(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}))
			req.Header.Set("Origin", origin)
			r := s.send(t, req)
			if r.header.Get("Access-Control-Allow-Origin") != want || r.header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("POST from %s: Allow-Origin %q Allow-Credentials %q, want %q and none", origin,
					r.header.Get("Access-Control-Allow-Origin"), r.header.Get("Access-Control-Allow-Credentials"), want)
			}
		}
	})

	t.Run("case=client_credentials", func(t *testing.T) {
		r := s.send(t, s.formRequest(t, "/oauth2/token", service.auth(url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}})))
		status, body := r.status, r.body
		if status != http.StatusOK {
			t.Fatalf("client_credentials: %s", describe(status, body))
		}
		if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("token response Cache-Control %q, want no-store (RFC 6749 section 5.1)", cc)
		}
		at := claim(body, "access_token")
		if body["refresh_token"] != nil || body["id_token"] != nil {
			t.Errorf("client_credentials issued %v", body)
		}
		h, c := s.verifyJWT(t, at)
		mustEqual(t, "typ", h.ExtraHeaders["typ"], any("at+jwt"))
		mustEqual(t, "sub", claim(c, "sub"), service.client.ID)
		mustEqual(t, "client_id", claim(c, "client_id"), service.client.ID)
		mustEqual(t, "scope", claim(c, "scope"), "api:read")
		if _, ok := c["role"]; ok {
			t.Errorf("a client's token carries role %v", c["role"])
		}
		if !s.active(t, at) {
			t.Error("client_credentials token introspects inactive")
		}

		status, body = service.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"api:admin"}})
		if status != http.StatusBadRequest || oauthError(body) != "invalid_scope" {
			t.Errorf("unregistered scope: %s, want 400 invalid_scope", describe(status, body))
		}
		status, body = basic.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}})
		if status != http.StatusBadRequest || oauthError(body) != "unauthorized_client" {
			t.Errorf("client without the grant: %s, want 400 unauthorized_client", describe(status, body))
		}
	})

	t.Run("case=bad client secret is 401 invalid_client", func(t *testing.T) {
		cc := url.Values{"grant_type": {"client_credentials"}}
		for name, o := range map[string]postOpt{
			"basic, wrong secret":           {form: cc, user: service.client.ID, pass: "wrong"},
			"basic, no secret":              {form: cc, user: service.client.ID},
			"post, wrong secret":            {form: withValues(cc, "client_id", post.client.ID, "client_secret", "wrong")},
			"basic client authing via post": {form: withValues(cc, "client_id", service.client.ID, "client_secret", service.secret)},
			"public client with a secret":   {form: withValues(cc, "client_id", public.client.ID, "client_secret", "x")},
		} {
			r := s.send(t, s.formRequest(t, "/oauth2/token", o))
			if r.status != http.StatusUnauthorized || oauthError(r.body) != "invalid_client" {
				t.Errorf("%s: %d %s, want 401 invalid_client", name, r.status, r.raw)
			}
			if o.user != "" && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("%s: WWW-Authenticate %q, want a Basic challenge (RFC 6749 section 5.2)", name, r.header.Get("WWW-Authenticate"))
			}
		}
	})

	t.Run("case=errors are RFC 6749 JSON, never a 500", func(t *testing.T) {
		big := strings.Repeat("a", 200<<10)
		for name, c := range map[string]struct {
			contentType string
			body        string
			auth        bool
			wantError   string
		}{
			"empty body":                          {"application/x-www-form-urlencoded", "", true, ""},
			"malformed form":                      {"application/x-www-form-urlencoded", "grant_type=%zz&%%%", true, ""},
			"JSON body":                           {"application/json", `{"grant_type":"client_credentials"}`, true, ""},
			"no content type":                     {"", "grant_type=client_credentials", true, ""},
			"oversized body":                      {"application/x-www-form-urlencoded", "grant_type=client_credentials&x=" + big, true, ""},
			"missing grant_type":                  {"application/x-www-form-urlencoded", "scope=api%3Aread", true, "invalid_request"},
			"unsupported grant_type":              {"application/x-www-form-urlencoded", "grant_type=password&username=a&password=b", true, "unsupported_grant_type"},
			"implicit grant_type":                 {"application/x-www-form-urlencoded", "grant_type=implicit", true, "unsupported_grant_type"},
			"device grant_type, not the client's": {"application/x-www-form-urlencoded", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code", true, "unauthorized_client"},
			"code missing":                        {"application/x-www-form-urlencoded", "grant_type=authorization_code", true, ""},
			"garbage code":                        {"application/x-www-form-urlencoded", "grant_type=authorization_code&code=abc&redirect_uri=x", true, ""},
			"garbage refresh token":               {"application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=abc.def", true, ""},
			"refresh without a token":             {"application/x-www-form-urlencoded", "grant_type=refresh_token", true, ""},
			"no client authentication":            {"application/x-www-form-urlencoded", "grant_type=client_credentials", false, "invalid_client"},
			"repeated grant_type":                 {"application/x-www-form-urlencoded", "grant_type=client_credentials&grant_type=refresh_token", true, ""},
			"broken multipart":                    {"multipart/form-data; boundary=x", "--x\r\nbroken", true, ""},
		} {
			req := s.request(t, http.MethodPost, "/oauth2/token", strings.NewReader(c.body))
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			if c.auth {
				req.SetBasicAuth(service.client.ID, service.secret)
			}
			checkJSONError(t, name, s.send(t, req), c.wantError)
		}

		for name, path := range map[string]string{"revocation": "/oauth2/revoke", "introspection": "/oauth2/introspect"} {
			req := s.request(t, http.MethodPost, path, strings.NewReader("token=%zz"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(service.client.ID, service.secret)
			checkJSONError(t, name+" with a malformed body", s.send(t, req), "")
		}
		checkJSONError(t, "GET token endpoint", s.send(t, s.request(t, http.MethodGet, "/oauth2/token", nil)), "")

		// Malformed authorization requests get an error page or an error
		// redirect, never a 500 (browser.do fails on a 5xx).
		b := s.browser()
		for _, q := range []string{"", "client_id=" + public.client.ID, "response_type=code", "client_id=%zz", "client_id=" + public.client.ID + "&redirect_uri=%%%"} {
			p := b.get(t, s.URL+"/oauth2/auth?"+q)
			if p.Status != http.StatusBadRequest && (p.Location == nil || p.Location.Query().Get("error") == "") {
				t.Errorf("authorize?%.60s: %d %v", q, p.Status, p.Location)
			}
		}
		if p := b.get(t, s.URL+"/oauth2/auth/resume?flow=nope"); p.Status != http.StatusBadRequest {
			t.Errorf("resume of an unknown flow: %d", p.Status)
		}
	})
}

// TestTokenClaims pins what the tokens say: the ID token's claims (amr
// naming a second factor when one was used), and JWT access tokens that a
// resource server verifies offline (RFC 9068).
func TestTokenClaims(t *testing.T) {
	f := startOIDC(t)
	s, public, basic := f.s, f.public, f.basic

	t.Run("case=ID token claims", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		tok := basic.login(t, s.browser(), u, allScopes, nil)
		c := tok.Claims
		mustEqual(t, "iss", claim(c, "iss"), s.URL)
		mustEqual(t, "sub", claim(c, "sub"), u.ID)
		if aud := audienceOf(c["aud"]); !slices.Contains(aud, basic.client.ID) {
			t.Errorf("aud = %v, lacks the client", aud)
		}
		mustEqual(t, "azp", claim(c, "azp"), basic.client.ID)
		for _, k := range []string{"exp", "iat", "auth_time"} {
			if n, ok := c[k].(float64); !ok || n <= 0 {
				t.Errorf("%s = %v, want a NumericDate", k, c[k])
			}
		}
		if exp, iat := c["exp"].(float64), c["iat"].(float64); exp <= iat {
			t.Errorf("exp %v is not after iat %v", exp, iat)
		}
		if claim(c, "nonce") == "" || claim(c, "at_hash") == "" || claim(c, "sid") == "" {
			t.Errorf("nonce %q, at_hash %q, sid %q: want all three", claim(c, "nonce"), claim(c, "at_hash"), claim(c, "sid"))
		}
		mustEqualSlice(t, "amr", toStrings(c["amr"]), []string{"pwd"})
		mustEqual(t, "email", claim(c, "email"), u.Email)
	})

	t.Run("case=a second factor shows in amr", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		totpSecret := s.enableTOTP(t, u.ID)
		ar := basic.authURL(allScopes, nil)
		res := s.browser().authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, TOTPSecret: totpSecret, Consent: "allow"})
		tok := basic.exchange(t, res.code(t, s, ar.State), ar)
		amr := toStrings(tok.Claims["amr"])
		slices.Sort(amr)
		mustEqualSlice(t, "amr", amr, []string{"otp", "pwd"})
	})

	t.Run("case=JWT access token verifies offline (RFC 9068)", func(t *testing.T) {
		for _, role := range []string{storage.RoleUser, storage.RoleAdmin} {
			u := s.user(t, role)
			tok := public.login(t, s.browser(), u, allScopes, nil)
			h, c := s.verifyJWT(t, tok.AccessToken)
			mustEqual(t, "typ", h.ExtraHeaders["typ"], any("at+jwt"))
			mustEqual(t, "alg", h.Algorithm, "RS256")
			mustEqual(t, "iss", claim(c, "iss"), s.URL)
			mustEqual(t, "sub", claim(c, "sub"), u.ID)
			mustEqual(t, "client_id", claim(c, "client_id"), public.client.ID)
			if aud := audienceOf(c["aud"]); len(aud) == 0 {
				t.Error("aud is empty")
			}
			scope, ok := c["scope"].(string)
			if !ok {
				t.Errorf("scope = %#v, want a space-separated string", c["scope"])
			}
			got := strings.Fields(scope)
			slices.Sort(got)
			want := slices.Clone(allScopes)
			slices.Sort(want)
			mustEqualSlice(t, "scope", got, want)
			if claim(c, "jti") == "" {
				t.Error("no jti")
			}
			iat, _ := c["iat"].(float64)
			exp, _ := c["exp"].(float64)
			if iat <= 0 || exp <= iat {
				t.Errorf("iat %v exp %v", iat, exp)
			}
			mustEqual(t, "role", claim(c, "role"), role)
			if _, ok := c["scp"]; ok {
				t.Error("token carries fosite's scp array")
			}
		}
	})
}

// TestCodeExchange pins that a code is exchanged once: a second exchange
// fails and revokes what the first one got, and of racing exchanges exactly
// one wins.
func TestCodeExchange(t *testing.T) {
	f := startOIDC(t)
	s, basic, post := f.s, f.basic, f.post

	t.Run("case=code reuse fails and revokes the first exchange's tokens", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		ar := basic.authURL(allScopes, nil)
		code := s.browser().authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}).code(t, s, ar.State)
		exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {basic.conf.RedirectURL}, "code_verifier": {ar.Verifier}}
		status, first := basic.tokenRequest(t, exchange)
		if status != http.StatusOK {
			t.Fatalf("first exchange: %s", describe(status, first))
		}
		status, body := basic.tokenRequest(t, exchange)
		if status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Errorf("second exchange: %s, want 400 invalid_grant", describe(status, body))
		}
		if s.active(t, claim(first, "access_token")) {
			t.Error("access token of the first exchange is still active")
		}
		if status, body := basic.refresh(t, claim(first, "refresh_token")); status != http.StatusBadRequest {
			t.Errorf("refresh token of the first exchange: %s, want 400", describe(status, body))
		}
	})

	t.Run("case=racing code exchanges have exactly one winner", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		ar := post.authURL(allScopes, nil)
		code := s.browser().authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}).code(t, s, ar.State)
		results := race(t, 8, func() *http.Request {
			return s.formRequest(t, "/oauth2/token", post.auth(url.Values{
				"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {post.conf.RedirectURL}, "code_verifier": {ar.Verifier},
			}))
		})
		wins := 0
		for _, r := range results {
			switch {
			case r.status == http.StatusOK:
				wins++
			case r.status != http.StatusBadRequest || oauthError(r.body) != "invalid_grant":
				t.Errorf("losing exchange: %d %v, want 400 invalid_grant", r.status, r.body)
			}
		}
		if wins != 1 {
			t.Errorf("%d of %d racing exchanges succeeded, want exactly 1", wins, len(results))
		}
	})
}

// TestPrivateKeyJWT covers client authentication with private_key_jwt
// (RFC 7523): an assertion signed with the client's registered key
// authenticates it, once; another key, another audience or a replay does
// not.
func TestPrivateKeyJWT(t *testing.T) {
	s := startServer(t, nil)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks := func(pub any, alg string) json.RawMessage {
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "k1", Algorithm: alg, Use: "sig"}}})
		return b
	}
	rs := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read",
		TokenEndpointAuthMethod: "private_key_jwt", JWKS: jwks(&rsaKey.PublicKey, "RS256")})
	es := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read",
		TokenEndpointAuthMethod: "private_key_jwt", JWKS: jwks(&ecKey.PublicKey, "ES256"), TokenEndpointAuthSigningAlg: "ES256"})

	assertion := func(t *testing.T, key any, alg jose.SignatureAlgorithm, clientID, aud string) string {
		t.Helper()
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		tok, err := josejwt.Signed(signer).Claims(josejwt.Claims{
			Issuer: clientID, Subject: clientID, Audience: josejwt.Audience{aud}, ID: randString(16),
			IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(time.Minute)),
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tokenURL := s.URL + "/oauth2/token"
	exchange := func(t *testing.T, clientID, a string) (int, map[string]any) {
		t.Helper()
		return s.post(t, "/oauth2/token", postOpt{form: url.Values{
			"grant_type": {"client_credentials"}, "scope": {"api:read"}, "client_id": {clientID},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {a},
		}})
	}

	t.Run("case=discovery lists private_key_jwt", func(t *testing.T) {
		p := s.browser().get(t, s.URL+"/.well-known/openid-configuration")
		var d map[string]any
		json.Unmarshal([]byte(p.Body), &d)
		if !contains(d["token_endpoint_auth_methods_supported"], "private_key_jwt") || !contains(d["token_endpoint_auth_signing_alg_values_supported"], "ES256") {
			t.Fatalf("discovery: %v", d)
		}
	})
	t.Run("case=an RS256 assertion authenticates, once", func(t *testing.T) {
		a := assertion(t, rsaKey, jose.RS256, rs.client.ID, tokenURL)
		status, body := exchange(t, rs.client.ID, a)
		if status != http.StatusOK || body["access_token"] == nil {
			t.Fatalf("got %s", describe(status, body))
		}
		if status, body := exchange(t, rs.client.ID, a); status == http.StatusOK {
			t.Fatalf("a replayed assertion must fail, got %s", describe(status, body))
		}
	})
	t.Run("case=an ES256 assertion authenticates", func(t *testing.T) {
		status, body := exchange(t, es.client.ID, assertion(t, ecKey, jose.ES256, es.client.ID, tokenURL))
		if status != http.StatusOK {
			t.Fatalf("got %s", describe(status, body))
		}
	})
	t.Run("case=refused assertions", func(t *testing.T) {
		otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		for name, a := range map[string]string{
			"another key":      assertion(t, otherKey, jose.RS256, rs.client.ID, tokenURL),
			"another audience": assertion(t, rsaKey, jose.RS256, rs.client.ID, "https://elsewhere.example/token"),
			"another client":   assertion(t, rsaKey, jose.RS256, es.client.ID, tokenURL),
			"another alg":      assertion(t, ecKey, jose.ES256, rs.client.ID, tokenURL),
			"garbage":          "not.a.jwt",
		} {
			if status, body := exchange(t, rs.client.ID, a); status != http.StatusUnauthorized && status != http.StatusBadRequest || body["access_token"] != nil {
				t.Errorf("%s: got %s", name, describe(status, body))
			}
		}
	})
	t.Run("case=registration refuses private keys and missing keys", func(t *testing.T) {
		priv, _ := json.Marshal(jose.JSONWebKey{Key: rsaKey, KeyID: "k1"})
		for name, m := range map[string]clients.Metadata{
			"a private key": {GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "private_key_jwt", JWKS: json.RawMessage(`{"keys":[` + string(priv) + `]}`)},
			"no keys":       {GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "private_key_jwt"},
			"http jwks_uri": {GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "private_key_jwt", JWKSURI: "http://keys.example.com/jwks"},
			"wrong key type": {GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "private_key_jwt",
				JWKS: jwks(&rsaKey.PublicKey, "RS256"), TokenEndpointAuthSigningAlg: "ES256"},
		} {
			if _, _, err := clients.New(m, s.box); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
	})
}
