package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/storage"
)

// startRegistration is a server whose client registration is in mode.
func startRegistration(t testing.TB, mode string) *testServer {
	t.Helper()
	return startServer(t, func(c *Config) { c.ClientRegistration = mode })
}

// registrationCall sends a JSON body (nil: none) to the registration
// endpoint or a client's registration, with a bearer token when set.
func (s *testServer) registrationCall(t testing.TB, method, uri, token string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			b, _ = json.Marshal(body)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, uri, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s: %d %s", method, uri, resp.StatusCode, raw)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, uri, raw)
		}
	}
	return resp.StatusCode, out, resp.Header
}

// register registers metadata (with an initial access token when set)
// and fails unless it is created.
func (s *testServer) register(t testing.TB, token string, m map[string]any) map[string]any {
	t.Helper()
	status, body, _ := s.registrationCall(t, http.MethodPost, s.URL+registration.Path, token, m)
	if status != http.StatusCreated {
		t.Fatalf("register: %s", describe(status, body))
	}
	return body
}

// registeredParty is the relying party of a registration answer.
func (s *testServer) registeredParty(t testing.TB, body map[string]any) *relyingParty {
	t.Helper()
	c, err := s.store.GetClient(t.Context(), claim(body, "client_id"))
	if err != nil {
		t.Fatal(err)
	}
	return s.relyingParty(c, claim(body, "client_secret"))
}

// publicApp is the metadata of a public single-page app asking for the
// test API.
func publicApp() map[string]any {
	return map[string]any{
		"client_name": "Registered SPA", "redirect_uris": []string{"https://spa.registered.example/cb"},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
		"scope": "openid offline_access api:read",
	}
}

// initialToken makes an initial access token directly in the store.
func (s *testServer) initialToken(t testing.TB, maxUses int, ttl time.Duration) string {
	t.Helper()
	iat, token := registration.NewInitialAccessToken(s.box, maxUses, ttl)
	if err := s.store.CreateInitialAccessToken(t.Context(), iat, storage.Effects{}); err != nil {
		t.Fatal(err)
	}
	return token
}
