package server

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// jwks fetches the published key set.
func (s *testServer) jwks(t testing.TB) jose.JSONWebKeySet {
	t.Helper()
	resp, err := http.Get(s.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS: %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	return set
}

// verifyJWT verifies token offline against the published JWKS, as a
// resource server does, and returns its header and claims.
func (s *testServer) verifyJWT(t testing.TB, token string) (jose.Header, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	h := jws.Signatures[0].Header
	set := s.jwks(t)
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", h.KeyID, len(keys))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("JWT does not verify against the JWKS: %v", err)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return h, claims
}

// jwtHeader is an empty fosite header.
type jwtHeader struct{}

func (jwtHeader) ToMap() map[string]any { return map[string]any{} }

func (jwtHeader) Add(string, any) {}

func (jwtHeader) Get(string) any { return nil }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwtPart(v any) string {
	b, _ := json.Marshal(v)
	return b64(b)
}

// splitJWT returns a JWT's header and raw payload.
func splitJWT(t testing.TB, token string) (map[string]any, []byte) {
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
func signRS256(t testing.TB, h map[string]any, payload []byte) string {
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
