package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latch-idp/latch/storage"
)

// dpopKey is a client's DPoP key (P-256), signing proofs as RFC 9449
// section 4 describes; the proof's header and claims can be changed to
// play a broken or hostile client.
type dpopKey struct {
	priv *ecdsa.PrivateKey
	// nonce, when set, goes into every proof (LATCH_DPOP_NONCE).
	nonce string
}

func newDPoPKey(t testing.TB) *dpopKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{priv: k}
}

// jwk is the public key as a JWK (with the private part when private).
func (k *dpopKey) jwk(private bool) map[string]any {
	var key any = k.priv.Public()
	if private {
		key = k.priv
	}
	b, _ := json.Marshal(jose.JSONWebKey{Key: key})
	m := map[string]any{}
	json.Unmarshal(b, &m)
	return m
}

// jkt is the key's RFC 7638 thumbprint.
func (k *dpopKey) jkt(t testing.TB) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: k.priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return b64(tp)
}

// proofEdit changes a proof's header or claims before it is signed.
type proofEdit func(header, claims map[string]any)

// proof signs a proof for method and target URL.
func (k *dpopKey) proof(t testing.TB, method, target string, edits ...proofEdit) string {
	t.Helper()
	header := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": k.jwk(false)}
	claims := map[string]any{"jti": randString(16), "htm": method, "htu": target, "iat": time.Now().Unix()}
	if k.nonce != "" {
		claims["nonce"] = k.nonce
	}
	for _, e := range edits {
		e(header, claims)
	}
	input := jwtPart(header) + "." + jwtPart(claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
}

// withClaim sets a claim of the proof (nil deletes it).
func withClaim(name string, v any) proofEdit {
	return func(_, c map[string]any) {
		if v == nil {
			delete(c, name)
		} else {
			c[name] = v
		}
	}
}

// withHeader sets a header parameter of the proof (nil deletes it).
func withHeader(name string, v any) proofEdit {
	return func(h, _ map[string]any) {
		if v == nil {
			delete(h, name)
		} else {
			h[name] = v
		}
	}
}

// withATH binds the proof to an access token.
func withATH(token string) proofEdit {
	sum := sha256.Sum256([]byte(token))
	return withClaim("ath", b64(sum[:]))
}

// dpopTokenRequest posts form to the token endpoint as rp with a DPoP
// proof (none when proof is empty).
func (rp *relyingParty) dpopTokenRequest(t testing.TB, form url.Values, proof string) rawResponse {
	t.Helper()
	req := rp.s.formRequest(t, "/oauth2/token", rp.auth(form))
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return rp.s.send(t, req)
}

// dpopLogin runs the code flow as u (authorization parameters params) and
// exchanges the code with a proof of key (nil: without a proof).
func (rp *relyingParty) dpopLogin(t testing.TB, u storage.User, key *dpopKey, params map[string]string) rawResponse {
	t.Helper()
	ar := rp.authURL(allScopes, params)
	res := rp.s.browser().authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"})
	return rp.dpopExchange(t, res.code(t, rp.s, ar.State), ar, key)
}

// dpopExchange trades a code for tokens with a proof of key (nil: none).
func (rp *relyingParty) dpopExchange(t testing.TB, code string, ar authRequest, key *dpopKey) rawResponse {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rp.conf.RedirectURL}, "code_verifier": {ar.Verifier}}
	proof := ""
	if key != nil {
		proof = key.proof(t, http.MethodPost, rp.s.URL+"/oauth2/token")
	}
	return rp.dpopTokenRequest(t, form, proof)
}

// dpopRefresh presents a refresh token with a proof of key (nil: none).
func (rp *relyingParty) dpopRefresh(t testing.TB, rt string, key *dpopKey) rawResponse {
	t.Helper()
	proof := ""
	if key != nil {
		proof = key.proof(t, http.MethodPost, rp.s.URL+"/oauth2/token")
	}
	return rp.dpopTokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, proof)
}

// dpopUserinfo calls userinfo with the DPoP scheme and the proof edits
// (a proof of key for GET /userinfo with the token's ath, changed by edits);
// key nil sends no proof.
func (s *testServer) dpopUserinfo(t testing.TB, token string, key *dpopKey, edits ...proofEdit) rawResponse {
	t.Helper()
	req := s.request(t, http.MethodGet, "/userinfo", nil)
	req.Header.Set("Authorization", "DPoP "+token)
	if key != nil {
		req.Header.Set("DPoP", key.proof(t, http.MethodGet, s.URL+"/userinfo", append([]proofEdit{withATH(token)}, edits...)...))
	}
	return s.send(t, req)
}

// mustDPoPTokens checks a token response binds its access token to key
// and returns the response's access and refresh tokens.
func (s *testServer) mustDPoPTokens(t testing.TB, r rawResponse, key *dpopKey) (at, rt string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("token request: %d %s", r.status, r.raw)
	}
	mustEqual(t, "token_type", claim(r.body, "token_type"), "DPoP")
	at = claim(r.body, "access_token")
	_, claims := s.verifyJWT(t, at)
	cnf, _ := claims["cnf"].(map[string]any)
	mustEqual(t, "access token cnf.jkt", claim(cnf, "jkt"), key.jkt(t))
	return at, claim(r.body, "refresh_token")
}

// mustOAuthError checks an RFC 6749 error answer and its status.
func mustOAuthError(t testing.TB, what string, r rawResponse, status int, code string) {
	t.Helper()
	checkJSONError(t, what, r, code)
	mustEqual(t, what+": status", r.status, status)
}
