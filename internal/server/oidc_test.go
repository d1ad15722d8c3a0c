package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/storage"
)

var allScopes = []string{"openid", "profile", "email", "offline_access"}

// TestOIDC drives every flow of the authorization server end to end over
// HTTP, through the real login and consent pages, against PostgreSQL and
// Redis, with x/oauth2 and go-oidc as the relying party. The subtests share
// one server; each uses users (and, where it matters, clients) of its own.
func TestOIDC(t *testing.T) {
	const spaOrigin = "https://spa.example.com"
	s := startServer(t, func(c *Config) { c.CORSOrigins = []string{spaOrigin} })
	public := s.client(t, clients.Metadata{
		ClientName: "Public SPA", TokenEndpointAuthMethod: storage.AuthMethodNone,
		Scope: "openid profile email offline_access", PostLogoutRedirectURIs: []string{"https://spa.example.com/signed-out"},
	})
	basic := s.client(t, clients.Metadata{
		ClientName: "Confidential (basic)", TokenEndpointAuthMethod: storage.AuthMethodBasic,
		Scope: "openid profile email offline_access",
	})
	post := s.client(t, clients.Metadata{
		ClientName: "Confidential (post)", TokenEndpointAuthMethod: storage.AuthMethodPost,
		Scope: "openid profile email offline_access",
	})
	firstParty := s.client(t, clients.Metadata{
		ClientName: "First-party app", TokenEndpointAuthMethod: storage.AuthMethodNone,
		Scope: "openid profile email", FirstParty: true,
	})
	service := s.client(t, clients.Metadata{
		ClientName: "Service", GrantTypes: []string{"client_credentials"},
		Scope: "api:read api:write", TokenEndpointAuthMethod: storage.AuthMethodBasic,
	})

	t.Run("case=discovery is complete and consistent", func(t *testing.T) {
		b := s.browser()
		p := b.get(t, s.URL+"/.well-known/openid-configuration")
		mustEqual(t, "status", p.Status, http.StatusOK)
		var d map[string]any
		if err := json.Unmarshal([]byte(p.Body), &d); err != nil {
			t.Fatalf("discovery is not JSON: %v", err)
		}
		mustEqual(t, "issuer", claim(d, "issuer"), s.URL)
		endpoints := map[string]string{
			"authorization_endpoint": http.MethodGet, "token_endpoint": http.MethodPost,
			"userinfo_endpoint": http.MethodGet, "jwks_uri": http.MethodGet,
			"revocation_endpoint": http.MethodPost, "introspection_endpoint": http.MethodPost,
			"end_session_endpoint": http.MethodGet,
		}
		seen := map[string]bool{}
		for name, method := range endpoints {
			u := claim(d, name)
			if !strings.HasPrefix(u, s.URL+"/") {
				t.Errorf("%s = %q, want a URL under the issuer", name, u)
				continue
			}
			if seen[u] {
				t.Errorf("%s = %q is advertised twice", name, u)
			}
			seen[u] = true
			var r *page
			if method == http.MethodGet {
				r = b.get(t, u)
			} else {
				r = b.post(t, u, url.Values{})
			}
			if r.Status == http.StatusNotFound || r.Status == http.StatusMethodNotAllowed {
				t.Errorf("%s %s (%s): %d", method, u, name, r.Status)
			}
		}
		list := func(k string) []string {
			var out []string
			for _, v := range asSlice(d[k]) {
				s, _ := v.(string)
				out = append(out, s)
			}
			return out
		}
		mustEqualSlice(t, "response_types_supported", list("response_types_supported"), []string{"code"})
		mustEqualSlice(t, "code_challenge_methods_supported", list("code_challenge_methods_supported"), []string{"S256"})
		mustEqual(t, "authorization_response_iss_parameter_supported", d["authorization_response_iss_parameter_supported"], any(true))
		contains := func(k string, want ...string) {
			t.Helper()
			got := list(k)
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("%s = %v, lacks %q", k, got, w)
				}
			}
		}
		contains("grant_types_supported", "authorization_code", "refresh_token", "client_credentials")
		for _, g := range []string{"implicit", "password"} {
			if slices.Contains(list("grant_types_supported"), g) {
				t.Errorf("grant_types_supported advertises %q", g)
			}
		}
		contains("scopes_supported", allScopes...)
		contains("claims_supported", "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid", "email", "name")
		contains("response_modes_supported", "query")
		contains("subject_types_supported", "public")
		contains("id_token_signing_alg_values_supported", "RS256")
		contains("token_endpoint_auth_methods_supported", "client_secret_basic", "client_secret_post", "none")
		contains("revocation_endpoint_auth_methods_supported", "client_secret_basic", "client_secret_post")
		contains("introspection_endpoint_auth_methods_supported", "client_secret_basic", "client_secret_post")
		if slices.Contains(list("introspection_endpoint_auth_methods_supported"), "none") {
			t.Error("introspection must not be open to unauthenticated callers")
		}

		// go-oidc accepts the document (it checks that issuer matches).
		prov := s.oidcProvider(t)
		mustEqual(t, "go-oidc token URL", prov.Endpoint().TokenURL, claim(d, "token_endpoint"))

		jp := b.get(t, claim(d, "jwks_uri"))
		if jp.Header.Get("Cache-Control") == "" {
			t.Error("JWKS response carries no Cache-Control")
		}
		set := s.jwks(t)
		if len(set.Keys) == 0 {
			t.Fatal("JWKS is empty")
		}
		for _, k := range set.Keys {
			if k.KeyID == "" || k.Use != "sig" || k.Algorithm == "" || !k.IsPublic() {
				t.Errorf("JWKS key kid=%q use=%q alg=%q public=%v", k.KeyID, k.Use, k.Algorithm, k.IsPublic())
			}
		}
	})

	for _, rp := range []*relyingParty{public, basic, post} {
		t.Run("case=code flow with PKCE, client auth "+rp.client.TokenEndpointAuthMethod, func(t *testing.T) {
			u := s.user(t, storage.RoleUser)
			b := s.browser()
			ar := rp.authURL(allScopes, nil)
			res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"})
			if !res.SawLogin || !res.SawConsent {
				t.Errorf("login page shown %v, consent page shown %v; want both for a third-party client", res.SawLogin, res.SawConsent)
			}
			tok := rp.exchange(t, res.code(t, s, ar.State), ar)
			if tok.IDToken == nil || tok.AccessToken == "" || tok.RefreshToken == "" {
				t.Fatalf("tokens: id %v, access %q, refresh %q", tok.IDToken != nil, tok.AccessToken, tok.RefreshToken)
			}
			mustEqual(t, "token_type", strings.ToLower(tok.TokenType), "bearer")
			mustEqual(t, "ID token subject", tok.IDToken.Subject, u.ID)
			if !s.active(t, tok.AccessToken) {
				t.Error("fresh access token introspects inactive")
			}
		})
	}

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

	t.Run("case=authorization errors redirect with iss", func(t *testing.T) {
		b := s.browser()
		// Errors the request shows before anyone logs in.
		for name, params := range map[string]map[string]string{
			"unknown scope":                 {"scope": "openid admin:everything"},
			"response_type=token":           {"response_type": "token"},
			"response_type=code id_token":   {"response_type": "code id_token"},
			"response_mode=fragment":        {"response_mode": "fragment"},
			"prompt=none without a session": {"prompt": "none"},
		} {
			ar := public.authURL(allScopes, params)
			res := b.authorize(t, ar.URL, flowSteps{})
			q := res.callbackQuery(t, s, ar.State)
			if q.Get("error") == "" || q.Get("code") != "" {
				t.Errorf("%s: callback %s, want an error and no code", name, res.Callback)
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

	t.Run("case=access tokens verify before and after key rotation", func(t *testing.T) {
		ctx := t.Context()
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		before := public.login(t, b, u, allScopes, nil)
		h, _ := s.verifyJWT(t, before.AccessToken)
		oldKID := h.KeyID

		// A rotation publishes the new key before it signs anything.
		created, err := s.keys.Rotate(ctx)
		if err != nil || len(created) != 1 {
			t.Fatalf("rotate: %v, %d keys", err, len(created))
		}
		if set := s.jwks(t); len(set.Key(created[0].ID)) != 1 {
			t.Error("the new key is not published at once")
		}
		_, body := s.rsToken(t, service)
		if h, _ := s.verifyJWT(t, body); h.KeyID != oldKID {
			t.Errorf("token signed with kid %s before the new key is due; want %s", h.KeyID, oldKID)
		}

		// Another replica (as `latch keys rotate` does) creates a key that
		// signs at once; this replica sees it at its next reload.
		other := keys.NewManager(s.store, s.box, keys.Options{Algorithms: []string{"RS256"}, PublishAhead: time.Millisecond})
		created, err = other.Rotate(ctx)
		if err != nil || len(created) != 1 {
			t.Fatalf("rotate: %v, %d keys", err, len(created))
		}
		newKID := created[0].ID
		for i := 0; ; i++ {
			if err := s.keys.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			_, at := s.rsToken(t, service)
			if h, _ := s.verifyJWT(t, at); h.KeyID == newKID {
				break
			}
			if i == 50 {
				t.Fatalf("the new key %s never signs", newKID)
			}
			time.Sleep(20 * time.Millisecond)
		}

		after := public.login(t, b, u, allScopes, nil) // go-oidc fetches the new key on its own
		ha, ca := s.verifyJWT(t, after.AccessToken)
		mustEqual(t, "kid after rotation", ha.KeyID, newKID)
		mustEqual(t, "sub after rotation", claim(ca, "sub"), u.ID)

		// The token signed before the rotation still verifies offline and
		// at latch.
		hb, cb := s.verifyJWT(t, before.AccessToken)
		mustEqual(t, "old token's kid", hb.KeyID, oldKID)
		mustEqual(t, "old token's sub", claim(cb, "sub"), u.ID)
		if !s.active(t, before.AccessToken) {
			t.Error("token signed with the previous key introspects inactive")
		}
		if status, _ := s.userinfo(t, http.MethodGet, before.AccessToken); status != http.StatusOK {
			t.Errorf("userinfo with the token of the previous key: %d", status)
		}
		// So does the ID token, as an id_token_hint.
		q := url.Values{"id_token_hint": {before.RawIDToken}, "post_logout_redirect_uri": {"https://spa.example.com/signed-out"}}
		if p := b.get(t, claim(discovery(t, s), "end_session_endpoint")+"?"+q.Encode()); p.Location == nil {
			t.Errorf("logout with an ID token of the previous key: %d, want a redirect", p.Status)
		}
	})

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

	t.Run("case=PKCE is S256 only, required for public clients, and bound to the code", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		steps := flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}
		for name, params := range map[string]map[string]string{
			"missing for a public client": {"code_challenge": "", "code_challenge_method": ""},
			"plain":                       {"code_challenge_method": "plain", "code_challenge": strings.Repeat("a", 43)},
			"unknown method":              {"code_challenge_method": "S512"},
			"method without challenge":    {"code_challenge": ""},
			"challenge without method":    {"code_challenge_method": ""},
		} {
			ar := public.authURL(allScopes, params)
			res := b.authorize(t, ar.URL, steps)
			q := res.callbackQuery(t, s, ar.State)
			if q.Get("code") != "" || q.Get("error") != "invalid_request" {
				t.Errorf("PKCE %s: callback %s, want error=invalid_request and no code", name, res.Callback)
			}
			if res.SawLogin {
				t.Errorf("PKCE %s: the user was asked to log in before the error", name)
			}
		}

		for name, c := range map[string]struct {
			rp       *relyingParty
			verifier func(ar authRequest) string
		}{
			"wrong verifier":                         {public, func(authRequest) string { return oauth2.GenerateVerifier() }},
			"started with PKCE, finished without it": {basic, func(authRequest) string { return "" }},
			"challenge as verifier":                  {post, challengeOf},
		} {
			ar := c.rp.authURL(allScopes, nil)
			code := b.authorize(t, ar.URL, steps).code(t, s, ar.State)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.rp.conf.RedirectURL}}
			if v := c.verifier(ar); v != "" {
				form.Set("code_verifier", v)
			}
			status, body := c.rp.tokenRequest(t, form)
			if status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
				t.Errorf("%s: %s, want 400 invalid_grant", name, describe(status, body))
			}
		}

		// A flow started without PKCE cannot be finished with a verifier.
		ar := basic.authURL(allScopes, map[string]string{"code_challenge": "", "code_challenge_method": ""})
		code := b.authorize(t, ar.URL, steps).code(t, s, ar.State)
		status, body := basic.tokenRequest(t, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {basic.conf.RedirectURL}, "code_verifier": {oauth2.GenerateVerifier()}})
		if status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Errorf("verifier without challenge: %s, want 400 invalid_grant", describe(status, body))
		}
	})

	t.Run("case=wrong redirect_uri gets an error page, never a redirect", func(t *testing.T) {
		b := s.browser()
		reg := public.conf.RedirectURL
		for _, uri := range []string{
			"https://evil.example.com/callback",
			reg + "/",
			reg + "?x=1",
			strings.ToUpper(reg[:8]) + reg[8:],
			strings.Replace(reg, "https://", "http://", 1),
		} {
			ar := public.authURL(allScopes, map[string]string{"redirect_uri": uri})
			p := b.get(t, ar.URL)
			if p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("redirect_uri %q: %d Location %v, want a 400 page", uri, p.Status, p.Location)
			}
		}

		// The code is bound to the redirect URI it was issued for.
		u := s.user(t, storage.RoleUser)
		two := s.client(t, clients.Metadata{
			TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid",
			RedirectURIs: []string{"https://two.example.com/a", "https://two.example.com/b"},
		})
		ar := two.authURL([]string{"openid"}, nil)
		code := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}).code(t, s, ar.State)
		status, body := two.tokenRequest(t, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {"https://two.example.com/b"}, "code_verifier": {ar.Verifier}})
		if status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Errorf("exchange with another redirect_uri: %s, want 400 invalid_grant", describe(status, body))
		}
	})

	t.Run("case=unknown client", func(t *testing.T) {
		ar := public.authURL(allScopes, map[string]string{"client_id": "no-such-client"})
		p := s.browser().get(t, ar.URL)
		if p.Status != http.StatusBadRequest || p.Location != nil {
			t.Errorf("authorize: %d Location %v, want a 400 page", p.Status, p.Location)
		}
		status, body := s.post(t, "/oauth2/token", postOpt{form: url.Values{"grant_type": {"client_credentials"}}, user: "no-such-client", pass: "x"})
		if status != http.StatusUnauthorized || oauthError(body) != "invalid_client" {
			t.Errorf("token: %s, want 401 invalid_client", describe(status, body))
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

	t.Run("case=userinfo GET and POST with bearer", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := basic.login(t, b, u, []string{"openid", "email"}, nil)
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			status, c := s.userinfo(t, method, tok.AccessToken)
			if status != http.StatusOK {
				t.Fatalf("%s userinfo: %s", method, describe(status, c))
			}
			mustEqual(t, method+" sub", claim(c, "sub"), u.ID)
			mustEqual(t, method+" email", claim(c, "email"), u.Email)
			mustEqual(t, method+" email_verified", c["email_verified"], any(true))
			if _, ok := c["name"]; ok {
				t.Errorf("%s: name released without the profile scope", method)
			}
		}
		// The access token in a POST body (RFC 6750 section 2.2).
		status, c := s.post(t, "/userinfo", postOpt{form: url.Values{"access_token": {tok.AccessToken}}})
		if status != http.StatusOK || claim(c, "sub") != u.ID {
			t.Errorf("userinfo with form token: %s", describe(status, c))
		}

		tok = basic.login(t, b, u, []string{"openid", "profile"}, nil)
		_, c = s.userinfo(t, http.MethodGet, tok.AccessToken)
		if claim(c, "name") == "" || claim(c, "email") != "" {
			t.Errorf("profile scope: %v, want name and no email", c)
		}
		// go-oidc reads it too.
		info, err := s.oidcProvider(t).UserInfo(t.Context(), oauth2.StaticTokenSource(tok.Token))
		if err != nil || info.Subject != u.ID {
			t.Errorf("go-oidc userinfo: %v %v", err, info)
		}

		// A token without a user (client_credentials) gets no claims.
		_, cc := s.rsToken(t, service)
		if status, body := s.userinfo(t, http.MethodGet, cc); status != http.StatusForbidden && status != http.StatusUnauthorized {
			t.Errorf("userinfo with a client's token: %s, want 401 or 403", describe(status, body))
		}

		parts := strings.Split(tok.AccessToken, ".")
		unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + "."
		for name, token := range map[string]string{
			"garbage": "not-a-token", "altered": tok.AccessToken[:len(tok.AccessToken)-4] + "AAAA", "none": "",
			"alg none": unsigned, "ID token": tok.RawIDToken,
		} {
			req := s.request(t, http.MethodGet, "/userinfo", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp := s.send(t, req)
			if resp.status != http.StatusUnauthorized || !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s token: %d WWW-Authenticate %q, want 401 with a Bearer challenge", name, resp.status, resp.header.Get("WWW-Authenticate"))
			}
			if token != "" && !strings.Contains(resp.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s token: WWW-Authenticate %q lacks invalid_token", name, resp.header.Get("WWW-Authenticate"))
			}
		}
	})

	t.Run("case=prompt=none", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		ar := public.authURL(allScopes, map[string]string{"prompt": "none"})
		res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"})
		if q := res.callbackQuery(t, s, ar.State); q.Get("error") != "login_required" || res.SawLogin {
			t.Errorf("without a session: %s (login page shown %v), want error=login_required", res.Callback, res.SawLogin)
		}

		public.login(t, b, u, []string{"openid", "profile"}, nil)
		ar = public.authURL([]string{"openid", "profile"}, map[string]string{"prompt": "none"})
		res = b.authorize(t, ar.URL, flowSteps{})
		public.exchange(t, res.code(t, s, ar.State), ar)

		ar = public.authURL(allScopes, map[string]string{"prompt": "none"})
		res = b.authorize(t, ar.URL, flowSteps{})
		if q := res.callbackQuery(t, s, ar.State); q.Get("error") != "consent_required" {
			t.Errorf("with a session, new scopes: %s, want error=consent_required", res.Callback)
		}
	})

	t.Run("case=prompt=login and max_age force a new login", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		first := basic.login(t, b, u, allScopes, nil)
		steps := flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}

		for name, c := range map[string]struct {
			params    map[string]string
			wantLogin bool
		}{
			"no prompt":       {nil, false},
			"prompt=login":    {map[string]string{"prompt": "login"}, true},
			"max_age=0":       {map[string]string{"max_age": "0"}, true},
			"max_age=3600":    {map[string]string{"max_age": "3600"}, false},
			"prompt=consent":  {map[string]string{"prompt": "consent"}, false},
			"max_age=invalid": {map[string]string{"max_age": "-1"}, false},
		} {
			ar := basic.authURL(allScopes, c.params)
			res := b.authorize(t, ar.URL, steps)
			if res.SawLogin != c.wantLogin {
				t.Errorf("%s: login page shown %v, want %v", name, res.SawLogin, c.wantLogin)
			}
			if res.Callback == nil {
				t.Errorf("%s: stopped at %s %d", name, res.Last.URL, res.Last.Status)
				continue
			}
			tok := basic.exchange(t, res.code(t, s, ar.State), ar)
			authTime, _ := tok.Claims["auth_time"].(float64)
			if authTime < first.Claims["auth_time"].(float64) {
				t.Errorf("%s: auth_time went back", name)
			}
			if c.params["prompt"] == "consent" && !res.SawConsent {
				t.Errorf("prompt=consent: no consent page")
			}
		}
	})

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

	t.Run("case=RP-initiated logout", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := public.login(t, b, u, allScopes, nil)
		logout := claim(discovery(t, s), "end_session_endpoint")

		// An unregistered post_logout_redirect_uri: an error page, and the
		// session stays.
		q := url.Values{"id_token_hint": {tok.RawIDToken}, "post_logout_redirect_uri": {"https://evil.example.com/"}, "state": {"s1"}}
		p := b.get(t, logout+"?"+q.Encode())
		if p.Status != http.StatusBadRequest || p.Location != nil {
			t.Errorf("unregistered post_logout_redirect_uri: %d Location %v, want a 400 page", p.Status, p.Location)
		}
		ar := public.authURL(allScopes, map[string]string{"prompt": "none"})
		b.authorize(t, ar.URL, flowSteps{}).code(t, s, ar.State)

		state := randString(8)
		q = url.Values{"id_token_hint": {tok.RawIDToken}, "post_logout_redirect_uri": {"https://spa.example.com/signed-out"}, "state": {state}}
		p = b.get(t, logout+"?"+q.Encode())
		if p.Location == nil || p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
			t.Fatalf("logout: %d, want a redirect:\n%s", p.Status, p.Body)
		}
		mustEqual(t, "logout redirect", p.Location.Scheme+"://"+p.Location.Host+p.Location.Path, "https://spa.example.com/signed-out")
		mustEqual(t, "logout state", p.Location.Query().Get("state"), state)

		ar = public.authURL(allScopes, map[string]string{"prompt": "none"})
		if q := b.authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State); q.Get("error") != "login_required" {
			t.Errorf("after logout prompt=none gives %v, want login_required", q)
		}
	})

	t.Run("case=logout without id_token_hint asks first", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		public.login(t, b, u, allScopes, nil)
		logout := claim(discovery(t, s), "end_session_endpoint")
		q := url.Values{"client_id": {public.client.ID}, "post_logout_redirect_uri": {"https://spa.example.com/signed-out"}, "state": {"s2"}}
		p := b.get(t, logout+"?"+q.Encode())
		if p.Status != http.StatusOK || p.Location != nil {
			t.Fatalf("logout without a hint: %d Location %v, want a confirmation page", p.Status, p.Location)
		}
		f := p.formWith(t, "csrf_token")

		// Without the page's CSRF token the session stays.
		forged := url.Values{}
		for k, v := range f.Fields {
			forged[k] = v
		}
		forged.Del("csrf_token")
		if r := b.post(t, f.Action.String(), forged); r.Status != http.StatusForbidden && r.Status != http.StatusBadRequest {
			t.Errorf("confirmation without CSRF token: %d, want it refused", r.Status)
		}
		ar := public.authURL(allScopes, map[string]string{"prompt": "none"})
		b.authorize(t, ar.URL, flowSteps{}).code(t, s, ar.State)

		p = b.submit(t, f, nil, [2]string{})
		if p.Location == nil || p.Location.Host != "spa.example.com" || p.Location.Query().Get("state") != "s2" {
			t.Fatalf("confirmed logout: %d Location %v", p.Status, p.Location)
		}
		ar = public.authURL(allScopes, map[string]string{"prompt": "none"})
		if q := b.authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State); q.Get("error") != "login_required" {
			t.Errorf("after a confirmed logout prompt=none gives %v, want login_required", q)
		}
		if p := b.get(t, logout); p.Status != http.StatusOK {
			t.Errorf("logout without a session: %d, want the signed-out page", p.Status)
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
			"empty body":               {"application/x-www-form-urlencoded", "", true, ""},
			"malformed form":           {"application/x-www-form-urlencoded", "grant_type=%zz&%%%", true, ""},
			"JSON body":                {"application/json", `{"grant_type":"client_credentials"}`, true, ""},
			"no content type":          {"", "grant_type=client_credentials", true, ""},
			"oversized body":           {"application/x-www-form-urlencoded", "grant_type=client_credentials&x=" + big, true, ""},
			"missing grant_type":       {"application/x-www-form-urlencoded", "scope=api%3Aread", true, "invalid_request"},
			"unsupported grant_type":   {"application/x-www-form-urlencoded", "grant_type=password&username=a&password=b", true, "unsupported_grant_type"},
			"implicit grant_type":      {"application/x-www-form-urlencoded", "grant_type=implicit", true, "unsupported_grant_type"},
			"device grant_type":        {"application/x-www-form-urlencoded", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code", true, "unsupported_grant_type"},
			"code missing":             {"application/x-www-form-urlencoded", "grant_type=authorization_code", true, ""},
			"garbage code":             {"application/x-www-form-urlencoded", "grant_type=authorization_code&code=abc&redirect_uri=x", true, ""},
			"garbage refresh token":    {"application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=abc.def", true, ""},
			"refresh without a token":  {"application/x-www-form-urlencoded", "grant_type=refresh_token", true, ""},
			"no client authentication": {"application/x-www-form-urlencoded", "grant_type=client_credentials", false, "invalid_client"},
			"repeated grant_type":      {"application/x-www-form-urlencoded", "grant_type=client_credentials&grant_type=refresh_token", true, ""},
			"broken multipart":         {"multipart/form-data; boundary=x", "--x\r\nbroken", true, ""},
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

// TestOIDCRefreshGracePeriod pins the grace rule: a refresh token
// re-presented within LATCH_REFRESH_GRACE_PERIOD of its rotation is
// accepted, not treated as theft.
func TestOIDCRefreshGracePeriod(t *testing.T) {
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

// TestOIDCReuseRevokesUser pins LATCH_REFRESH_REUSE_REVOKES=user: a reuse
// revokes every grant and browser session of the user.
func TestOIDCReuseRevokesUser(t *testing.T) {
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

// rsToken gets a client_credentials access token for rp.
func (s *testServer) rsToken(t *testing.T, rp *relyingParty) (map[string]any, string) {
	t.Helper()
	status, body := rp.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}})
	if status != http.StatusOK {
		t.Fatalf("client_credentials: %s", describe(status, body))
	}
	return body, claim(body, "access_token")
}

// userinfo calls the userinfo endpoint with a bearer token.
func (s *testServer) userinfo(t *testing.T, method, token string) (int, map[string]any) {
	t.Helper()
	req := s.request(t, method, "/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return s.doJSON(t, req)
}

func (s *testServer) request(t *testing.T, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

type rawResponse struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (s *testServer) send(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	r, err := sendRaw(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sendRaw(req *http.Request) (rawResponse, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rawResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return rawResponse{}, err
	}
	r := rawResponse{status: resp.StatusCode, header: resp.Header, raw: string(b), body: map[string]any{}}
	_ = json.Unmarshal(b, &r.body)
	return r, nil
}

// race sends n requests at once (built up front) and returns their
// answers; a 5xx fails t.
func race(t *testing.T, n int, build func() *http.Request) []rawResponse {
	t.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = build()
	}
	out := make([]rawResponse, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = sendRaw(reqs[i])
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range out {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if r.status >= 500 {
			t.Errorf("racing request %d: %d %s", i, r.status, r.raw)
		}
	}
	return out
}

// checkJSONError asserts an RFC 6749 error answer: 4xx, JSON with an error
// code (want, when given), no stack trace.
func checkJSONError(t *testing.T, name string, r rawResponse, want string) {
	t.Helper()
	if r.status < 400 || r.status >= 500 {
		t.Errorf("%s: status %d, want 4xx: %s", name, r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", name, ct)
	}
	if oauthError(r.body) == "" {
		t.Errorf("%s: no error code in %q", name, r.raw)
	} else if want != "" && oauthError(r.body) != want {
		t.Errorf("%s: error %q, want %q", name, oauthError(r.body), want)
	}
	if strings.Contains(r.raw, ".go:") || strings.Contains(r.raw, "goroutine") {
		t.Errorf("%s: the answer leaks a stack trace: %s", name, r.raw)
	}
}

func discovery(t *testing.T, s *testServer) map[string]any {
	t.Helper()
	req := s.request(t, http.MethodGet, "/.well-known/openid-configuration", nil)
	status, d := s.doJSON(t, req)
	if status != http.StatusOK {
		t.Fatalf("discovery: %d", status)
	}
	return d
}

// challengeOf is the S256 challenge of the request's verifier.
func challengeOf(ar authRequest) string {
	sum := sha256.Sum256([]byte(ar.Verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func withValues(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = vs
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func toStrings(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func audienceOf(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	return toStrings(v)
}

func mustEqualSlice(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestOIDCES256 pins the ES256 configuration: go-oidc verifies the ID
// tokens and resource servers the access tokens.
func TestOIDCES256(t *testing.T) {
	s := startServer(t, func(c *Config) { c.IDTokenAlg, c.AccessTokenAlg = "ES256", "ES256" })
	rp := s.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid profile"})

	t.Run("case=ES256 ID and access tokens verify", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		mustEqualSlice(t, "id_token_signing_alg_values_supported", toStrings(discovery(t, s)["id_token_signing_alg_values_supported"]), []string{"ES256"})
		tok := rp.login(t, s.browser(), u, []string{"openid", "profile"}, nil) // go-oidc verifies the ID token
		h, c := s.verifyJWT(t, tok.AccessToken)
		mustEqual(t, "alg", h.Algorithm, "ES256")
		mustEqual(t, "typ", h.ExtraHeaders["typ"], any("at+jwt"))
		mustEqual(t, "sub", claim(c, "sub"), u.ID)
		if status, body := s.userinfo(t, http.MethodGet, tok.AccessToken); status != http.StatusOK {
			t.Errorf("userinfo: %s", describe(status, body))
		}
		if !s.active(t, tok.AccessToken) {
			t.Error("ES256 access token introspects inactive")
		}
		for _, k := range s.jwks(t).Keys {
			if k.Algorithm != "ES256" {
				t.Errorf("JWKS has a %s key; only ES256 is configured", k.Algorithm)
			}
		}
	})
}
