package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/latch-idp/latch/clients"
)

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

func contains(v any, want string) bool {
	list, _ := v.([]any)
	for _, x := range list {
		if x == want {
			return true
		}
	}
	return false
}
