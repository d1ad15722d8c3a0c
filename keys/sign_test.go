package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	fjwt "github.com/ory/fosite/token/jwt"
)

// serveJWKS serves m's JWKS as a relying party would fetch it.
func serveJWKS(t *testing.T, m *Manager) string {
	t.Helper()
	srv := httptest.NewServer(&Handler{Keys: m})
	t.Cleanup(srv.Close)
	return srv.URL + JWKSPath
}

func oidcVerifier(t *testing.T, e *env, jwksURL, alg string) *oidc.IDTokenVerifier {
	return oidc.NewVerifier("https://latch.test", oidc.NewRemoteKeySet(t.Context(), jwksURL), &oidc.Config{
		ClientID:             "client-1",
		SupportedSigningAlgs: []string{alg},
		Now:                  e.clock.Now,
	})
}

func TestSignAndVerify(t *testing.T) {
	e := newEnv(t)
	m := e.started(t, Options{Algorithms: bothAlgs})
	jwksURL := serveJWKS(t, m)

	for _, alg := range bothAlgs {
		t.Run("case=go-jose v4 verifies a "+alg+" token with the JWKS key its kid names", func(t *testing.T) {
			tok, kid := sign(t, e, m, alg, nil)
			parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if h := parsed.Headers[0]; h.Algorithm != alg || h.KeyID != kid {
				t.Fatalf("header alg %q kid %q", h.Algorithm, h.KeyID)
			}
			set := jwksOf(t, m)
			found := set.Key(kid)
			if len(found) != 1 {
				t.Fatalf("kid %s in JWKS %d times", kid, len(found))
			}
			var claims josejwt.Claims
			if err := parsed.Claims(found[0].Key, &claims); err != nil {
				t.Fatal(err)
			}
			if claims.Subject != "user-1" {
				t.Errorf("sub %q", claims.Subject)
			}
		})

		t.Run("case=go-oidc accepts a "+alg+" token against the JWKS over HTTP", func(t *testing.T) {
			tok, _ := sign(t, e, m, alg, nil)
			idt, err := oidcVerifier(t, e, jwksURL, alg).Verify(t.Context(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if idt.Subject != "user-1" {
				t.Errorf("sub %q", idt.Subject)
			}
		})

		t.Run("case=Verify and fosite's Decode accept a "+alg+" token", func(t *testing.T) {
			tok, kid := sign(t, e, m, alg, nil)
			h, c, err := m.Verify(t.Context(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if h["kid"] != kid || h["alg"] != alg || c["sub"] != "user-1" {
				t.Errorf("header %v claims %v", h, c)
			}
			dec, err := m.Signer(alg).Decode(t.Context(), tok)
			if err != nil || !dec.Valid() || dec.Claims["sub"] != "user-1" {
				t.Fatalf("Decode: %v, %+v", err, dec)
			}
			sig, err := m.Signer(alg).Validate(t.Context(), tok)
			if err != nil || !strings.HasSuffix(tok, "."+sig) {
				t.Errorf("Validate: %q, %v", sig, err)
			}
		})
	}

	t.Run("case=a signer verifies tokens of the other algorithm too", func(t *testing.T) {
		tok, _ := sign(t, e, m, ES256, nil)
		if _, err := m.Signer(RS256).Validate(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("case=typ defaults to JWT and at+jwt from the header mapper is honoured", func(t *testing.T) {
		tok, _ := sign(t, e, m, RS256, nil)
		if h, _ := decodeHeader(t, tok); h["typ"] != "JWT" {
			t.Errorf("default typ %v", h["typ"])
		}
		at, _ := sign(t, e, m, RS256, &fjwt.Headers{Extra: map[string]any{"typ": "at+jwt"}})
		if h, _ := decodeHeader(t, at); h["typ"] != "at+jwt" {
			t.Errorf("typ %v, want at+jwt", h["typ"])
		}
		if _, _, err := m.Verify(t.Context(), at, RequireType("at+jwt")); err != nil {
			t.Errorf("RequireType(at+jwt) on an access token: %v", err)
		}
		if _, _, err := m.Verify(t.Context(), tok, RequireType("at+jwt")); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("RequireType(at+jwt) on an ID token: %v, want ErrInvalidToken", err)
		}
	})

	t.Run("case=kid and alg from session headers are ignored, other headers kept", func(t *testing.T) {
		tok, _ := sign(t, e, m, RS256, &fjwt.Headers{Extra: map[string]any{
			"kid": "attacker-kid", "alg": "none", "jku": "https://evil.test/jwks", "x-trace": "t1",
		}})
		h, _ := decodeHeader(t, tok)
		cur := m.ring.Load().current(RS256, m.now())
		if h["kid"] != cur.id || h["alg"] != RS256 {
			t.Errorf("header %v: want the current key's kid %s and RS256", h, cur.id)
		}
		if _, ok := h["jku"]; ok {
			t.Error("jku from the session header was kept")
		}
		if h["x-trace"] != "t1" {
			t.Errorf("other header lost: %v", h)
		}
		if _, _, err := m.Verify(t.Context(), tok); err != nil {
			t.Error(err)
		}
	})

	t.Run("case=Hash is SHA-256 and the signing method length 32", func(t *testing.T) {
		for _, alg := range bothAlgs {
			s := m.Signer(alg)
			got, err := s.Hash(t.Context(), []byte("access-token"))
			want := sha256.Sum256([]byte("access-token"))
			if err != nil || string(got) != string(want[:]) {
				t.Errorf("%s: Hash %x, %v", alg, got, err)
			}
			if n := s.GetSigningMethodLength(t.Context()); n != 32 {
				t.Errorf("%s: length %d", alg, n)
			}
		}
	})

	t.Run("case=Signer panics for an algorithm not configured", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		NewManager(e.store, e.box, Options{Algorithms: []string{RS256}}).Signer(ES256)
	})
}

// forge returns a token with the given header and claims, signed by key
// (nil: an empty signature).
func forge(t *testing.T, header map[string]any, claims map[string]any, k *key) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	unsigned := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	if k == nil {
		return unsigned + "."
	}
	tok, err := k.sign(c, "JWT", nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyRejects(t *testing.T) {
	e := newEnv(t)
	m := e.started(t, Options{Algorithms: bothAlgs})
	good, kid := sign(t, e, m, RS256, nil)
	ecKid := m.ring.Load().current(ES256, m.now()).id

	// A key of the same algorithm that latch never published.
	_, stranger, err := generate(e.box, RS256, e.clock.Now(), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	claims := map[string]any(e.claims())

	swapHeader := func(h map[string]any) string {
		b, _ := json.Marshal(h)
		return base64.RawURLEncoding.EncodeToString(b) + "." + parts[1] + "." + parts[2]
	}
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","exp":9999999999}`)) + "." + parts[2]

	expired := e.claims()
	expired["exp"] = e.clock.Now().Add(-time.Minute).Unix()
	expiredTok, _, err := m.Signer(RS256).Generate(t.Context(), expired, fjwt.NewHeaders())
	if err != nil {
		t.Fatal(err)
	}
	future := e.claims()
	future["nbf"] = e.clock.Now().Add(time.Hour).Unix()
	futureTok, _, err := m.Signer(RS256).Generate(t.Context(), future, fjwt.NewHeaders())
	if err != nil {
		t.Fatal(err)
	}
	noExp := e.claims()
	delete(noExp, "exp")
	noExpTok, _, err := m.Signer(RS256).Generate(t.Context(), noExp, fjwt.NewHeaders())
	if err != nil {
		t.Fatal(err)
	}

	// HMAC forgeries keyed with the public key of a published kid, in the
	// forms a confused verifier would take as the shared secret.
	pub := m.ring.Load().byID[kid].pub
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	jwkKey, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: RS256, Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	hmacForged := func(alg string, secret []byte) string {
		h := map[string]any{"alg": alg, "kid": kid, "typ": TypeJWT}
		hb, _ := json.Marshal(h)
		cb, _ := json.Marshal(claims)
		in := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
		hash := sha256.New
		if alg == "HS512" {
			hash = sha512.New
		}
		mac := hmac.New(hash, secret)
		mac.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}

	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{name: "unknown kid", token: forge(t, nil, claims, stranger), want: ErrUnknownKey},
		{name: "kid of a key that signed nothing here", token: swapHeader(map[string]any{"alg": "RS256", "kid": stranger.id}), want: ErrUnknownKey},
		{name: "no kid", token: swapHeader(map[string]any{"alg": "RS256"}), want: ErrInvalidToken},
		{name: "alg none", token: forge(t, map[string]any{"alg": "none", "kid": kid}, claims, nil), want: ErrInvalidToken},
		{name: "alg None", token: forge(t, map[string]any{"alg": "None", "kid": kid}, claims, nil), want: ErrInvalidToken},
		{name: "alg rs256 in lower case", token: swapHeader(map[string]any{"alg": "rs256", "kid": kid}), want: ErrInvalidToken},
		{name: "alg HS256 header on an RS256 signature", token: swapHeader(map[string]any{"alg": "HS256", "kid": kid}), want: ErrInvalidToken},
		{name: "HS256 keyed with the public key's DER", token: hmacForged("HS256", der), want: ErrInvalidToken},
		{name: "HS256 keyed with the public key's PEM", token: hmacForged("HS256", pemKey), want: ErrInvalidToken},
		{name: "HS512 keyed with the public key's JWK", token: hmacForged("HS512", jwkKey), want: ErrInvalidToken},
		{name: "alg of the other key type", token: swapHeader(map[string]any{"alg": "ES256", "kid": kid}), want: ErrInvalidToken},
		{name: "kid of the EC key on an RS256 token", token: swapHeader(map[string]any{"alg": "RS256", "kid": ecKid}), want: ErrUnknownKey},
		{name: "tampered claims", token: tampered, want: ErrInvalidToken},
		{name: "garbage", token: "not.a.jwt", want: ErrInvalidToken},
		{name: "expired", token: expiredTok, want: ErrExpired},
		{name: "not yet valid", token: futureTok, want: ErrInvalidToken},
		{name: "no exp", token: noExpTok, want: ErrInvalidToken},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			h, c, err := m.Verify(t.Context(), tc.token)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify: %v, want %v", err, tc.want)
			}
			if h != nil || c != nil {
				t.Error("Verify returned claims with an error")
			}
			// fosite's Decode follows Verify; only an expired token comes
			// back, with the time error fosite looks for (id_token_hint).
			tok, err := m.Signer(RS256).Decode(t.Context(), tc.token)
			if tc.want == ErrExpired {
				var ve *fjwt.ValidationError
				if !errors.As(err, &ve) || !ve.Has(fjwt.ValidationErrorExpired) || ve.Has(fjwt.ValidationErrorSignatureInvalid|fjwt.ValidationErrorUnverifiable|fjwt.ValidationErrorMalformed) {
					t.Errorf("Decode: %v, want only fosite's expired error", err)
				}
				if tok == nil || tok.Claims["sub"] != "user-1" {
					t.Error("Decode did not return the verified token with the time error")
				}
			} else if !errors.Is(err, tc.want) || tok != nil {
				t.Errorf("Decode: %v, %v, want %v", tok, err, tc.want)
			}
			if _, err := m.Signer(RS256).Validate(t.Context(), tc.token); err == nil {
				t.Error("Validate accepted the token")
			}
		})
	}

	t.Run("case=AllowExpired accepts an expired token, still checking the signature", func(t *testing.T) {
		if _, c, err := m.Verify(t.Context(), expiredTok, AllowExpired()); err != nil || c["sub"] != "user-1" {
			t.Errorf("Verify(AllowExpired): %v", err)
		}
		if _, _, err := m.Verify(t.Context(), tampered, AllowExpired()); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("tampered with AllowExpired: %v", err)
		}
	})

	t.Run("case=go-oidc refuses a token signed by an unpublished key", func(t *testing.T) {
		_, err := oidcVerifier(t, e, serveJWKS(t, m), RS256).Verify(t.Context(), forge(t, nil, claims, stranger))
		if err == nil {
			t.Error("accepted")
		}
	})
}

func TestSignWithoutKey(t *testing.T) {
	e := newEnv(t)
	m := e.manager(Options{})
	_, _, err := m.Signer(RS256).Generate(t.Context(), e.claims(), fjwt.NewHeaders())
	if !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("Generate before Init: %v, want ErrNoSigningKey", err)
	}
	if _, _, err := m.Signer(RS256).Generate(t.Context(), e.claims(), nil); err == nil {
		t.Error("Generate with a nil header mapper succeeded")
	}
}

var _ http.Handler = (*Handler)(nil)

func TestVerifyTypeAndIssuer(t *testing.T) {
	e := newEnv(t)
	m := e.started(t, Options{Algorithms: bothAlgs})
	typed := func(typ string) string {
		tok, _ := sign(t, e, m, ES256, &fjwt.Headers{Extra: map[string]any{"typ": typ}})
		return tok
	}
	at := typed(TypeAccessToken)
	expired := e.claims()
	expired["exp"] = e.clock.Now().Add(-time.Minute).Unix()
	expiredID, _, err := m.Signer(RS256).Generate(t.Context(), expired, fjwt.NewHeaders())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		token string
		opts  []VerifyOption
		want  error
	}{
		{"access token as an access token", at, []VerifyOption{RequireType(TypeAccessToken)}, nil},
		{"typ compared without case and application/ prefix", typed("application/AT+JWT"), []VerifyOption{RequireType(TypeAccessToken)}, nil},
		{"ID token as an access token", typed(TypeJWT), []VerifyOption{RequireType(TypeAccessToken)}, ErrWrongType},
		{"typ that only contains the wanted one", typed("xat+jwt"), []VerifyOption{RequireType(TypeAccessToken)}, ErrWrongType},
		{"the right issuer", at, []VerifyOption{RequireIssuer("https://latch.test")}, nil},
		{"another issuer", at, []VerifyOption{RequireIssuer("https://other.test")}, ErrWrongIssuer},
		{"an issuer differing in a trailing slash", at, []VerifyOption{RequireIssuer("https://latch.test/")}, ErrWrongIssuer},
		{"expiry is checked before typ", expiredID, []VerifyOption{RequireType(TypeAccessToken)}, ErrExpired},
		{"expired allowed, typ still checked", expiredID, []VerifyOption{AllowExpired(), RequireType(TypeAccessToken)}, ErrWrongType},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			_, c, err := m.Verify(t.Context(), tc.token, tc.opts...)
			if tc.want == nil {
				if err != nil || c["sub"] != "user-1" {
					t.Fatalf("Verify: %v", err)
				}
				if exp, ok := Expiry(c); !ok || exp.Unix() != int64(c["exp"].(float64)) {
					t.Errorf("Expiry = %v %v", exp, ok)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

// A token's header holds alg, kid, typ and the caller's extra entries,
// never an extra that would choose the key or algorithm; go-jose verifies
// what sign puts together, for each algorithm.
func TestSignHeader(t *testing.T) {
	for _, alg := range bothAlgs {
		t.Run(alg, func(t *testing.T) {
			_, k, err := generate(testBox(t, testSecret), alg, time.Now(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			for _, extra := range []map[string]any{nil, {"cty": "x", "kid": "other", "alg": "none", "jku": "https://evil"}} {
				tok, err := k.sign([]byte(`{"sub":"u"}`), "at+jwt", extra)
				if err != nil {
					t.Fatal(err)
				}
				jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					t.Fatal(err)
				}
				payload, err := jws.Verify(k.pub)
				if err != nil || string(payload) != `{"sub":"u"}` {
					t.Fatalf("Verify = %q, %v", payload, err)
				}
				h := jws.Signatures[0].Protected
				if h.Algorithm != alg || h.KeyID != k.id || h.ExtraHeaders["typ"] != "at+jwt" || h.JSONWebKey != nil || h.ExtraHeaders["jku"] != nil {
					t.Errorf("header = %+v", h)
				}
				if extra != nil && h.ExtraHeaders["cty"] != "x" {
					t.Errorf("extra header cty lost: %+v", h.ExtraHeaders)
				}
			}
		})
	}
}
