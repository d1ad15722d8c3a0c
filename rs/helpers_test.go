package rs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The tests play latch with a small issuer of their own: discovery, a JWK
// Set whose keys the test rotates, and an introspection endpoint.

const testAPI = "https://api.example.com"

type testIssuer struct {
	*httptest.Server
	mu          sync.Mutex
	keys        []jose.JSONWebKey // private keys; the JWK Set publishes their public halves
	jwksFetches atomic.Int32
	// introspect answers introspection; nil answers active:false.
	introspect  func(form url.Values, user, pass string) map[string]any
	introspects atomic.Int32
}

func newIssuer(t testing.TB) *testIssuer {
	t.Helper()
	is := &testIssuer{}
	is.Server = httptest.NewServer(http.HandlerFunc(is.serve))
	t.Cleanup(is.Close)
	is.addKey(t, "k-rsa", jose.RS256)
	is.addKey(t, "k-ec", jose.ES256)
	return is
}

func (is *testIssuer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.URL, "jwks_uri": is.URL + "/jwks", "introspection_endpoint": is.URL + "/introspect"})
	case "/jwks":
		is.jwksFetches.Add(1)
		w.Write(is.jwks())
	case "/introspect":
		is.introspects.Add(1)
		r.ParseForm()
		user, pass, _ := r.BasicAuth()
		ans := map[string]any{"active": false}
		if is.introspect != nil {
			ans = is.introspect(r.PostForm, user, pass)
		}
		json.NewEncoder(w).Encode(ans)
	default:
		http.NotFound(w, r)
	}
}

func (is *testIssuer) jwks() []byte {
	is.mu.Lock()
	defer is.mu.Unlock()
	set := jose.JSONWebKeySet{}
	for _, k := range is.keys {
		set.Keys = append(set.Keys, k.Public())
	}
	b, _ := json.Marshal(set)
	return b
}

// addKey publishes a new signing key.
func (is *testIssuer) addKey(t testing.TB, kid string, alg jose.SignatureAlgorithm) {
	t.Helper()
	var key any
	var err error
	if alg == jose.ES256 {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = append(is.keys, jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(alg), Use: "sig"})
}

func (is *testIssuer) privateKey(kid string) jose.JSONWebKey {
	is.mu.Lock()
	defer is.mu.Unlock()
	for _, k := range is.keys {
		if k.KeyID == kid {
			return k
		}
	}
	panic("no key " + kid)
}

// claims are a valid user token's claims for testAPI.
func (is *testIssuer) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": is.URL, "sub": "2b7d4c1e-user", "aud": []string{testAPI, is.URL + "/userinfo"},
		"client_id": "app", "scope": "openid api:read", "role": "user", "sid": "s1", "jti": "j1",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "auth_time": now.Unix(),
	}
}

// sign signs claims with the key kid, as alg, with the typ header.
func (is *testIssuer) sign(t testing.TB, kid string, alg jose.SignatureAlgorithm, typ string, claims map[string]any) string {
	t.Helper()
	k := is.privateKey(kid)
	opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	return signCompact(t, jose.SigningKey{Algorithm: alg, Key: k.Key}, opts, claims)
}

// signCompact signs claims as a compact JWS.
func signCompact(t testing.TB, key jose.SigningKey, opts *jose.SignerOptions, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// token is a valid user token, edited.
func (is *testIssuer) token(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	c := is.claims()
	if edit != nil {
		edit(c)
	}
	return is.sign(t, "k-rsa", jose.RS256, "at+jwt", c)
}

// clientToken is a client_credentials token.
func (is *testIssuer) clientToken(t *testing.T, scope string) string {
	return is.token(t, func(c map[string]any) {
		c["sub"], c["client_id"], c["scope"] = "svc", "svc", scope
		delete(c, "role")
		delete(c, "sid")
		delete(c, "auth_time")
	})
}

// unsigned builds a compact JWS by hand, for algorithms no signer makes.
func unsigned(header, claims map[string]any, sig []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(c) + "." + enc(sig)
}

func newVerifier(t *testing.T, is *testIssuer, edit func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{Issuer: is.URL, Audience: testAPI, Name: "Test API", Scopes: []string{"api:read", "api:write"}, Realm: "test"}
	if edit != nil {
		edit(&cfg)
	}
	v, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// call sends a request with the Authorization header (none when empty)
// through h, which answers 200 with the subject it saw.
func call(t *testing.T, mw func(http.Handler) http.Handler, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFrom(r.Context())
		if !ok {
			t.Error("no claims in the context")
			return
		}
		w.Write([]byte(c.Subject))
	}))
	req := httptest.NewRequest(http.MethodGet, "/things", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int, challenge string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != challenge {
		t.Fatalf("WWW-Authenticate\n got %s\nwant %s", got, challenge)
	}
}
