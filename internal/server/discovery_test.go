package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestDiscovery pins the discovery document: every endpoint it advertises
// answers, it lists what latch supports and nothing it refuses, go-oidc
// accepts it, and the JWKS it names publishes public signing keys only.
func TestDiscovery(t *testing.T) {
	f := startOIDC(t)
	s := f.s

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
}
