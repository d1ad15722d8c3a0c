package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/latch-idp/latch/registration"
)

// TestAttackRegistrationInput sends what a hostile or careless client
// might: each is refused with the RFC 7591 error that fits, never a 500,
// and nothing is stored.
func TestAttackRegistrationInput(t *testing.T) {
	s := startRegistration(t, registration.Open)
	with := func(k string, v any) map[string]any {
		m := publicApp()
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := map[string]struct {
		body any
		want string
	}{
		"not JSON":                    {[]byte(`{"redirect_uris":`), "invalid_client_metadata"},
		"a JSON array":                {[]byte(`[1,2]`), "invalid_client_metadata"},
		"plain http off loopback":     {with("redirect_uris", []string{"http://evil.example/cb"}), "invalid_redirect_uri"},
		"a redirect with a fragment":  {with("redirect_uris", []string{"https://spa.example/cb#x"}), "invalid_redirect_uri"},
		"no redirect URI":             {with("redirect_uris", nil), "invalid_redirect_uri"},
		"client_credentials":          {with("grant_types", []string{"client_credentials"}), "invalid_client_metadata"},
		"the admin scope":             {with("scope", "openid latch:admin"), "invalid_client_metadata"},
		"first-party trust":           {with("first_party", true), "invalid_client_metadata"},
		"a client_id of its choosing": {with("client_id", "admin-console"), "invalid_client_metadata"},
		"a secret of its choosing":    {with("client_secret", "hunter2"), "invalid_client_metadata"},
		"keys by URL":                 {with("token_endpoint_auth_method", "private_key_jwt"), "invalid_client_metadata"},
		"an unknown auth method":      {with("token_endpoint_auth_method", "tls_client_auth"), "invalid_client_metadata"},
		"the implicit flow":           {with("response_types", []string{"token"}), "invalid_client_metadata"},
		"ID tokens signed with HS256": {with("id_token_signed_response_alg", "HS256"), "invalid_client_metadata"},
		"unsigned ID tokens":          {with("id_token_signed_response_alg", "none"), "invalid_client_metadata"},
		"an ID token alg as a list":   {with("id_token_signed_response_alg", []string{"ES256"}), "invalid_client_metadata"},
		"an ID token alg as a number": {with("id_token_signed_response_alg", 256), "invalid_client_metadata"},
	}
	before := len(s.listClients(t))
	for name, tc := range cases {
		t.Run("case="+name, func(t *testing.T) {
			if name == "keys by URL" {
				tc.body.(map[string]any)["jwks_uri"] = "https://169.254.169.254/keys"
			}
			status, body, _ := s.registrationCall(t, http.MethodPost, s.URL+registration.Path, "", tc.body)
			if status != http.StatusBadRequest || oauthError(body) != tc.want {
				t.Fatalf("%s, want 400 %s", describe(status, body), tc.want)
			}
		})
	}
	t.Run("case=a huge body", func(t *testing.T) {
		huge := []byte(`{"client_name":"` + strings.Repeat("a", 100<<10) + `"}`)
		if status, _, _ := s.registrationCall(t, http.MethodPost, s.URL+registration.Path, "", huge); status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", status)
		}
	})
	t.Run("case=not sent as JSON", func(t *testing.T) {
		req := s.request(t, http.MethodPost, registration.Path, strings.NewReader(`redirect_uris=https://x.example/cb`))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if status, body := s.doJSON(t, req); status != http.StatusBadRequest || oauthError(body) != "invalid_client_metadata" {
			t.Fatalf("%s", describe(status, body))
		}
	})
	if after := len(s.listClients(t)); after != before {
		t.Fatalf("refused registrations stored %d clients", after-before)
	}
}

// TestAttackRegistrationFlood pins the rate limit per client address.
func TestAttackRegistrationFlood(t *testing.T) {
	s := startRegistration(t, registration.Open)
	for i := range 25 {
		status, body, h := s.registrationCall(t, http.MethodPost, s.URL+registration.Path, "", publicApp())
		if i < 20 && status != http.StatusCreated {
			t.Fatalf("registration %d: %s", i+1, describe(status, body))
		}
		if i >= 20 && (status != http.StatusTooManyRequests || h.Get("Retry-After") == "") {
			t.Fatalf("registration %d: %s, want 429 with Retry-After", i+1, describe(status, body))
		}
	}
}

func (s *testServer) listClients(t *testing.T) []string {
	t.Helper()
	cs, err := s.store.ListClients(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}
