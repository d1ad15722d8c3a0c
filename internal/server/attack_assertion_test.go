package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latch-idp/latch/clients"
)

// TestAttackClientAssertions pins the rules for private_key_jwt assertions
// that fosite leaves out (#11, weaknesses 7 and 9): iat or nbf in the
// future is invalid_client, never a 500; the audience is the issuer or the
// token endpoint and nothing else; an assertion lives at most 5 minutes.
func TestAttackClientAssertions(t *testing.T) {
	s := startServer(t, nil)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	c := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read",
		TokenEndpointAuthMethod: "private_key_jwt", JWKS: set, TokenEndpointAuthSigningAlg: "ES256"})
	id := c.client.ID
	sign := func(t *testing.T, edit func(map[string]any)) string {
		t.Helper()
		now := time.Now()
		claims := map[string]any{"iss": id, "sub": id, "aud": s.URL + "/oauth2/token", "jti": randString(16),
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
		edit(claims)
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
		payload, _ := json.Marshal(claims)
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := jws.CompactSerialize()
		return out
	}
	send := func(t *testing.T, path string, assertion string) (int, map[string]any) {
		t.Helper()
		return s.post(t, path, postOpt{form: url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}, "client_id": {id}, "token": {"x"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}})
	}
	now := time.Now()
	t.Run("case=the issuer as the audience is accepted", func(t *testing.T) {
		if status, body := send(t, "/oauth2/token", sign(t, func(c map[string]any) { c["aud"] = s.URL })); status != http.StatusOK {
			t.Fatalf("aud = issuer: %s", describe(status, body))
		}
	})
	for name, edit := range map[string]func(map[string]any){
		"iat in the future":               func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() },
		"nbf in the future":               func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() },
		"a lifetime of an hour":           func(c map[string]any) { c["exp"] = now.Add(time.Hour).Unix() },
		"no exp":                          func(c map[string]any) { delete(c, "exp") },
		"an audience list naming another": func(c map[string]any) { c["aud"] = []string{s.URL, "https://other.example.com"} },
		"another server's audience":       func(c map[string]any) { c["aud"] = "https://other.example.com/token" },
	} {
		t.Run("case="+name, func(t *testing.T) {
			for _, path := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke", "/oauth2/par"} {
				status, body := send(t, path, sign(t, edit))
				if status != http.StatusUnauthorized || oauthError(body) != "invalid_client" {
					t.Errorf("%s: %s, want 401 invalid_client", path, describe(status, body))
				}
			}
			if strings.Contains(s.logs.String(), "level=ERROR") {
				t.Errorf("an ERROR was logged for a client's bad assertion")
			}
		})
	}
}
