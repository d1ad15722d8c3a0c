package provider

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage/memory"
)

func TestVerifiedTokensForgetAtExpiry(t *testing.T) {
	var v verifiedTokens
	key := sha256.Sum256([]byte("a.b.c"))
	now := time.Now()
	if v.valid(key, now) {
		t.Fatal("an unknown token is not verified")
	}
	v.add(key, now.Add(time.Minute))
	if !v.valid(key, now) {
		t.Fatal("a verified token is remembered")
	}
	if v.valid(key, now.Add(2*time.Minute)) {
		t.Fatal("a verified token is forgotten when it expires")
	}
	if v.valid(sha256.Sum256([]byte("a.b.d")), now) {
		t.Fatal("another token string is another entry")
	}
}

// TestValidateAccessToken pins how a bearer access token is judged at
// introspection and userinfo: keys.Verify decides, and its failures become
// the fosite errors those endpoints answer with.
func TestValidateAccessToken(t *testing.T) {
	box, err := secret.New([]byte("0123456789abcdef0123456789abcdef-test-secret"))
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New(memory.Options{})
	m := keys.NewManager(store, box, keys.Options{})
	if err := m.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	const issuer = "https://latch.test"
	s := &strategy{signer: m.Signer(keys.RS256), verifier: m, issuer: issuer, resources: &resourceCache{load: store.ListResources}}

	req := testRequest("user-1")
	req.Session.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Hour))
	issued, _, err := s.GenerateAccessToken(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(typ string, edit func(jwt.MapClaims)) string {
		c := jwt.MapClaims{"iss": issuer, "sub": "user-1", "aud": []string{"app"}, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
		if edit != nil {
			edit(c)
		}
		tok, _, err := m.Signer(keys.RS256).Generate(t.Context(), c, &jwt.Headers{Extra: map[string]any{"typ": typ}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	parts := strings.Split(issued, ".")
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + "."

	for _, tc := range []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"an access token latch issued", issued, nil},
		{"typ in another spelling", sign("application/AT+JWT", nil), nil},
		{"an ID token", sign(keys.TypeJWT, nil), fosite.ErrTokenSignatureMismatch},
		{"expired", sign(keys.TypeAccessToken, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), fosite.ErrTokenExpired},
		{"another issuer", sign(keys.TypeAccessToken, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), fosite.ErrTokenClaim},
		{"alg none", unsigned, fosite.ErrTokenSignatureMismatch},
		{"garbage", "a.b.c", fosite.ErrTokenSignatureMismatch},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			// Twice: the second answer may come from the cache of
			// verified tokens, and must be the same.
			for range 2 {
				err := s.ValidateAccessToken(t.Context(), nil, tc.token)
				if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("ValidateAccessToken: %v, want %v", err, tc.want)
				}
			}
		})
	}
}
