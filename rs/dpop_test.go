package rs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// proofKey is a client's DPoP key.
type proofKey struct{ priv *ecdsa.PrivateKey }

func newProofKey(t *testing.T) *proofKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &proofKey{priv: k}
}

func (k *proofKey) jkt(t *testing.T) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: k.priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// proof signs a proof of GET http://example.com/things (httptest's request)
// for token, with its claims edited.
func (k *proofKey) proof(t *testing.T, token string, edit func(map[string]any)) string {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	claims := map[string]any{"jti": randomJTI(t), "htm": "GET", "htu": "http://example.com/things",
		"iat": time.Now().Unix(), "ath": base64.RawURLEncoding.EncodeToString(sum[:])}
	if edit != nil {
		edit(claims)
	}
	return signCompact(t, jose.SigningKey{Algorithm: jose.ES256, Key: k.priv}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), claims)
}

func randomJTI(t *testing.T) string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// callDPoP sends GET /things with the Authorization header and a DPoP
// header (none when proof is empty) through RequireUser.
func callDPoP(t *testing.T, v *Verifier, authorization, proof string) *httptest.ResponseRecorder {
	t.Helper()
	h := v.RequireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/things", nil)
	req.Header.Set("Authorization", authorization)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// wantDPoPChallenge checks a 401 with a DPoP challenge of code.
func wantDPoPChallenge(t *testing.T, rec *httptest.ResponseRecorder, code string) {
	t.Helper()
	ch := rec.Header().Get("WWW-Authenticate")
	if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(ch, "DPoP ") || !strings.Contains(ch, `error="`+code+`"`) || !strings.Contains(ch, `algs="ES256 EdDSA RS256"`) {
		t.Errorf("%d, WWW-Authenticate %q; want 401 DPoP error=%q with algs", rec.Code, ch, code)
	}
}

// TestDPoPBoundTokens pins RFC 9449 section 7 at the middleware: a token
// with cnf.jkt passes only with the DPoP scheme and a fresh proof of its
// key for this request and token; a bearer token stays a bearer token.
func TestDPoPBoundTokens(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, nil)
	key := newProofKey(t)
	bound := is.token(t, func(c map[string]any) { c["cnf"] = map[string]any{"jkt": key.jkt(t)} })
	bearer := is.token(t, nil)

	t.Run("case=bound token with its proof", func(t *testing.T) {
		if rec := callDPoP(t, v, "DPoP "+bound, key.proof(t, bound, nil)); rec.Code != http.StatusOK {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("case=proof replayed", func(t *testing.T) {
		p := key.proof(t, bound, nil)
		callDPoP(t, v, "DPoP "+bound, p)
		wantDPoPChallenge(t, callDPoP(t, v, "DPoP "+bound, p), "invalid_dpop_proof")
	})
	t.Run("case=bound token as Bearer", func(t *testing.T) {
		wantDPoPChallenge(t, callDPoP(t, v, "Bearer "+bound, ""), "invalid_token")
	})
	t.Run("case=bearer token as DPoP", func(t *testing.T) {
		wantDPoPChallenge(t, callDPoP(t, v, "DPoP "+bearer, key.proof(t, bearer, nil)), "invalid_token")
	})
	t.Run("case=bearer token as Bearer", func(t *testing.T) {
		if rec := callDPoP(t, v, "Bearer "+bearer, ""); rec.Code != http.StatusOK {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("case=proof of another key", func(t *testing.T) {
		wantDPoPChallenge(t, callDPoP(t, v, "DPoP "+bound, newProofKey(t).proof(t, bound, nil)), "invalid_token")
	})
	bad := map[string]string{
		"no proof":   "",
		"wrong ath":  key.proof(t, bound+"x", nil),
		"wrong htm":  key.proof(t, bound, func(c map[string]any) { c["htm"] = "POST" }),
		"wrong htu":  key.proof(t, bound, func(c map[string]any) { c["htu"] = "http://example.com/other" }),
		"stale iat":  key.proof(t, bound, func(c map[string]any) { c["iat"] = time.Now().Add(-10 * time.Minute).Unix() }),
		"future iat": key.proof(t, bound, func(c map[string]any) { c["iat"] = time.Now().Add(10 * time.Minute).Unix() }),
		"no jti":     key.proof(t, bound, func(c map[string]any) { delete(c, "jti") }),
		"alg none": unsigned(map[string]any{"alg": "none", "typ": "dpop+jwt", "jwk": jose.JSONWebKey{Key: key.priv.Public()}},
			map[string]any{"jti": "x", "htm": "GET", "htu": "http://example.com/things", "iat": time.Now().Unix()}, nil),
		"not a JWT": "proof",
	}
	for name, proof := range bad {
		t.Run("case="+name, func(t *testing.T) {
			wantDPoPChallenge(t, callDPoP(t, v, "DPoP "+bound, proof), "invalid_dpop_proof")
		})
	}
	t.Run("case=htu against the public origin", func(t *testing.T) {
		behind := newVerifier(t, is, func(c *Config) { c.PublicOrigin = "https://api.example.com" })
		p := key.proof(t, bound, func(c map[string]any) { c["htu"] = "https://API.example.com:443/things?page=2" })
		if rec := callDPoP(t, behind, "DPoP "+bound, p); rec.Code != http.StatusOK {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
}

// TestDPoPReplayCacheIsBounded pins that the replay cache holds at most
// its size, forgetting the oldest proofs first, and expired ones.
func TestDPoPReplayCacheIsBounded(t *testing.T) {
	c := newReplayCache(2)
	exp := time.Now().Add(time.Minute)
	for _, id := range []string{"a", "b", "c"} {
		if !c.first(id, exp) {
			t.Fatalf("%s seen before", id)
		}
	}
	if c.first("c", exp) || c.first("b", exp) {
		t.Error("a recent proof is accepted twice")
	}
	if c.order.Len() > 2 || len(c.seen) > 2 {
		t.Errorf("cache holds %d entries, more than 2", c.order.Len())
	}
	c = newReplayCache(10)
	c.first("old", time.Now().Add(-time.Second))
	if !c.first("old", exp) {
		t.Error("an expired entry still counts as seen")
	}
}

// TestVerifyNeedsTheRequestOfABoundToken pins that Verify, which sees no
// request, refuses a DPoP-bound token, and VerifyRequest checks its proof.
func TestVerifyNeedsTheRequestOfABoundToken(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, nil)
	key := newProofKey(t)
	bound := is.token(t, func(c map[string]any) { c["cnf"] = map[string]any{"jkt": key.jkt(t)} })
	if _, err := v.Verify(t.Context(), bound); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify of a bound token: %v, want ErrInvalidToken", err)
	}
	request := func(proof string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/things", nil)
		req.Header.Set("Authorization", "DPoP "+bound)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		return req
	}
	if c, err := v.VerifyRequest(request(key.proof(t, bound, nil))); err != nil || c.JKT != key.jkt(t) {
		t.Errorf("VerifyRequest with the proof: %v, %+v", err, c)
	}
	for name, proof := range map[string]string{"without a proof": "", "with another key's proof": newProofKey(t).proof(t, bound, nil)} {
		if _, err := v.VerifyRequest(request(proof)); !errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrUnavailable) {
			t.Errorf("VerifyRequest %s: %v, want ErrInvalidToken", name, err)
		}
	}
}
