package server

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/storage"
)

// idTokenAlg is the alg of a JWT that verifies against latch's JWKS.
func idTokenAlg(t testing.TB, s *testServer, tok string) string {
	t.Helper()
	h, _ := s.verifyJWT(t, tok)
	return h.Algorithm
}

// TestIDTokenAlgPerClient pins id_token_signed_response_alg: a client that
// registered ES256 gets ES256 ID tokens at sign-in and at every refresh,
// which go-oidc pinned to ES256 accepts; a client that named none gets the
// server's (RS256); discovery lists both, the default first.
func TestIDTokenAlgPerClient(t *testing.T) {
	s := startServer(t, nil)
	meta := clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid offline_access"}
	es := meta
	es.IDTokenSignedResponseAlg = "ES256"
	esRP, defRP := s.client(t, es), s.client(t, meta)
	u := s.user(t, storage.RoleUser)
	scopes := []string{"openid", "offline_access"}

	t.Run("case=discovery lists every algorithm, the default first", func(t *testing.T) {
		mustEqualSlice(t, "id_token_signing_alg_values_supported", toStrings(discovery(t, s)["id_token_signing_alg_values_supported"]), []string{"RS256", "ES256"})
	})
	t.Run("case=a client that registered ES256 gets ES256 ID tokens, refresh included", func(t *testing.T) {
		tok := esRP.login(t, s.browser(), u, scopes, nil)
		mustEqual(t, "alg", idTokenAlg(t, s, tok.RawIDToken), "ES256")
		pinned := s.oidcProvider(t).Verifier(&oidc.Config{ClientID: esRP.client.ID, SupportedSigningAlgs: []string{"ES256"}})
		if _, err := pinned.Verify(t.Context(), tok.RawIDToken); err != nil {
			t.Errorf("go-oidc pinned to ES256: %v", err)
		}
		status, body := esRP.refresh(t, tok.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("refresh: %s", describe(status, body))
		}
		mustEqual(t, "alg after refresh", idTokenAlg(t, s, claim(body, "id_token")), "ES256")
	})
	t.Run("case=a client that named none gets the server's", func(t *testing.T) {
		tok := defRP.login(t, s.browser(), u, scopes, nil)
		mustEqual(t, "alg", idTokenAlg(t, s, tok.RawIDToken), "RS256")
	})
}

// TestIDTokenAlgRegistration: registration takes only the algorithms latch
// signs with, through every way in, and the client's registration reads
// back the one chosen.
func TestIDTokenAlgRegistration(t *testing.T) {
	a := startAdmin(t, nil)
	for _, alg := range []string{"HS256", "none", "es256", "PS256", "RS512"} {
		a.as(t, http.MethodPost, "/admin/clients", map[string]any{
			"client_name": "x", "redirect_uris": []string{"https://app.example.com/cb"}, "id_token_signed_response_alg": alg,
		}).want(t, http.StatusBadRequest)
	}
	created := a.as(t, http.MethodPost, "/admin/clients", map[string]any{
		"client_name": "x", "redirect_uris": []string{"https://app.example.com/cb"}, "id_token_signed_response_alg": "ES256",
	}).want(t, http.StatusCreated)
	if got := claim(created.body, "id_token_signed_response_alg"); got != "ES256" {
		t.Errorf("registered id_token_signed_response_alg = %v", got)
	}
}

// TestIDTokenAlgOfLogoutTokens: a client's logout tokens are signed as its
// ID tokens are.
func TestIDTokenAlgOfLogoutTokens(t *testing.T) {
	s, rc := startServer(t, allowPrivate), newReceiver(t)
	rp := s.client(t, clients.Metadata{
		ClientName: "ES app", TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid",
		BackchannelLogoutURI: rc.URL + "/es", BackchannelLogoutSessionRequired: true, IDTokenSignedResponseAlg: "ES256",
	})
	br := s.browser()
	id := rp.login(t, br, s.user(t, storage.RoleUser), []string{"openid"}, nil).RawIDToken
	br.get(t, claim(discovery(t, s), "end_session_endpoint")+"?"+url.Values{"id_token_hint": {id}}.Encode())
	tok := rc.wait(t, "/es", 1, 10*time.Second)[0].Token
	checkLogoutToken(t, s, tok, rp.client.ID, id)
	if alg := idTokenAlg(t, s, tok); alg != "ES256" {
		t.Errorf("logout token alg %s, want the client's ES256", alg)
	}
}

// TestIDTokenAlgByDynamicRegistration: an app that registers itself (RFC
// 7591) with ES256 reads it back in the answer and gets ES256 ID tokens.
func TestIDTokenAlgByDynamicRegistration(t *testing.T) {
	s := startRegistration(t, registration.Open)
	m := publicApp()
	m["scope"] = "openid"
	m["id_token_signed_response_alg"] = "ES256"
	body := s.register(t, "", m)
	mustEqual(t, "id_token_signed_response_alg", claim(body, "id_token_signed_response_alg"), "ES256")
	rp := s.registeredParty(t, body)
	tok := rp.login(t, s.browser(), s.user(t, storage.RoleUser), []string{"openid"}, nil)
	mustEqual(t, "alg", idTokenAlg(t, s, tok.RawIDToken), "ES256")
}
