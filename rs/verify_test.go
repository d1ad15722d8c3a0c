package rs

import (
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const metaURL = testAPI + "/.well-known/oauth-protected-resource"

func invalidChallenge(desc string) string {
	return `Bearer realm="test", error="invalid_token", error_description="` + desc + `", resource_metadata="` + metaURL + `"`
}

func TestVerifyAcceptsAUserToken(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, nil)
	for _, tok := range []string{is.token(t, nil), is.sign(t, "k-ec", jose.ES256, "application/AT+JWT", is.claims())} {
		rec := call(t, v.RequireUser, "Bearer "+tok)
		wantStatus(t, rec, http.StatusOK, "")
		if rec.Body.String() != "2b7d4c1e-user" {
			t.Fatalf("handler saw subject %q", rec.Body)
		}
	}
	c, err := v.Verify(t.Context(), is.token(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsUser() || c.IsClient() || c.IsAdmin() || !c.HasScope("openid", "api:read") || c.HasScope("api:write") ||
		c.ClientID != "app" || c.SessionID != "s1" || c.AuthTime.IsZero() || c.ExpiresAt.Before(time.Now()) {
		t.Fatalf("claims = %+v", c)
	}
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, nil)
	now := time.Now()
	edit := func(f func(map[string]any)) func(*testing.T) string {
		return func(t *testing.T) string { return is.token(t, f) }
	}
	priv := is.privateKey("k-rsa")
	rsaPub, _ := x509.MarshalPKIXPublicKey(priv.Public().Key)
	cases := map[string]struct {
		token func(*testing.T) string
		desc  string
	}{
		"expired":               {edit(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), "The access token has expired."},
		"no expiry":             {edit(func(c map[string]any) { delete(c, "exp") }), "The access token has no valid expiry."},
		"not yet valid":         {edit(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), "The access token is not valid yet."},
		"issued in future":      {edit(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), "The access token is not valid yet."},
		"wrong audience":        {edit(func(c map[string]any) { c["aud"] = []string{"https://other.example.com"} }), "The access token is not meant for this API."},
		"audience of a client":  {edit(func(c map[string]any) { c["aud"] = "app" }), "The access token is not meant for this API."},
		"wrong issuer":          {edit(func(c map[string]any) { c["iss"] = "https://evil.example.com" }), "The access token was issued by someone else."},
		"malformed sub":         {edit(func(c map[string]any) { c["sub"] = 42 }), "The access token's sub is malformed."},
		"typ JWT (an ID token)": {func(t *testing.T) string { return is.sign(t, "k-rsa", jose.RS256, "JWT", is.claims()) }, "The token is not an access token (typ at+jwt)."},
		"no typ":                {func(t *testing.T) string { return is.sign(t, "k-rsa", jose.RS256, "", is.claims()) }, "The token is not an access token (typ at+jwt)."},
		"alg none": {func(t *testing.T) string {
			return unsigned(map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k-rsa"}, is.claims(), nil)
		}, "The access token is not a JWT signed with an accepted algorithm."},
		"HMAC keyed with the public key": {func(t *testing.T) string {
			signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: rsaPub}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k-rsa"))
			jws, _ := signer.Sign([]byte(`{"iss":"` + is.URL + `","aud":"` + testAPI + `","sub":"x","exp":9999999999}`))
			s, _ := jws.CompactSerialize()
			return s
		}, "The access token is not a JWT signed with an accepted algorithm."},
		"alg other than the key's": {func(t *testing.T) string { return is.sign(t, "k-rsa", jose.PS256, "at+jwt", is.claims()) }, "The access token's algorithm is not its key's."},
		"unknown kid": {func(t *testing.T) string {
			return unsigned(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "nope"}, is.claims(), []byte("sig"))
		}, "The access token is signed by an unknown key."},
		"bad signature": {func(t *testing.T) string {
			return unsigned(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "k-rsa"}, is.claims(), make([]byte, 256))
		}, "The access token's signature is not valid."},
		"not a JWT": {func(*testing.T) string { return "abc.def" }, "The access token is not a JWT signed with an accepted algorithm."},
	}
	for name, tc := range cases {
		t.Run("case="+name, func(t *testing.T) {
			tok := tc.token(t)
			wantStatus(t, call(t, v.RequireUser, "Bearer "+tok), http.StatusUnauthorized, invalidChallenge(tc.desc))
			if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) || strings.Contains(err.Error(), tok) {
				t.Fatalf("Verify error %v: want ErrInvalidToken, without the token", err)
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, func(c *Config) { c.Leeway = time.Minute })
	tok := is.token(t, func(c map[string]any) { c["exp"] = time.Now().Add(-30 * time.Second).Unix() })
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("a token expired 30s ago within a minute's leeway: %v", err)
	}
}

func TestUnknownKeyIsRefetchedOnceInAWhile(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, func(c *Config) { c.MinRefetchInterval = time.Second })
	before := is.jwksFetches.Load()
	is.addKey(t, "k-new", jose.RS256)
	time.Sleep(time.Second) // the first fetch, at New, counts
	rotated := is.sign(t, "k-new", jose.RS256, "at+jwt", is.claims())
	if _, err := v.Verify(t.Context(), rotated); err != nil {
		t.Fatalf("a token of a newly published key: %v", err)
	}
	if got := is.jwksFetches.Load() - before; got != 1 {
		t.Fatalf("%d key set fetches for one rotation, want 1", got)
	}
	for i := range 50 {
		forged := unsigned(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "forged-" + string(rune('a'+i%26))}, is.claims(), []byte("x"))
		if _, err := v.Verify(t.Context(), forged); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("forged kid: %v", err)
		}
	}
	if got := is.jwksFetches.Load() - before; got != 1 {
		t.Fatalf("50 forged kids made %d fetches in all, want still 1", got)
	}
}

func TestKeyRemovedFromTheSetIsNoLongerTrusted(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, func(c *Config) { c.RefreshInterval = time.Millisecond })
	tok := is.sign(t, "k-ec", jose.ES256, "at+jwt", is.claims())
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	is.keys = is.keys[:1] // k-ec withdrawn, as after a compromise
	is.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(t.Context(), tok)
		if errors.Is(err, ErrInvalidToken) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a token of a withdrawn key is still accepted from the cache")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewRefusesBadSetups(t *testing.T) {
	is := newIssuer(t)
	for name, cfg := range map[string]Config{
		"no issuer":            {Audience: testAPI},
		"no audience":          {Issuer: is.URL},
		"audience fragment":    {Issuer: is.URL, Audience: testAPI + "#x"},
		"issuer mismatch":      {Issuer: is.URL + "/", Audience: testAPI},
		"unreachable":          {Issuer: "http://127.0.0.1:1", Audience: testAPI},
		"strict without creds": {Issuer: is.URL, Audience: testAPI, Introspection: &Introspection{}},
	} {
		if _, err := New(t.Context(), cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}
