package keys

// This file holds the rules a JWT latch issued must pass besides its
// signature: which algorithms are accepted, how typ compares, how iss
// compares, how exp, nbf and iat are judged. Verify applies them to every
// token that comes back to latch. They are plain functions of what they
// judge (a header, claims, a clock, a skew) over the standard library and
// go-jose alone, so that a verifier of latch's tokens that cannot import
// this package, such as a resource server checking access tokens offline
// against the JWKS, can share or copy them whole instead of reading the
// RFCs a second time. Change a rule here and in its tests (rules_test.go),
// never in a caller.

import (
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Signing algorithms: the ones latch signs with, and so the only ones a
// token of latch can carry.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// Algorithms lists the algorithms latch signs with; latch keeps a live key
// of each, so a client may ask for any of them.
func Algorithms() []string { return []string{RS256, ES256} }

// AlgorithmsFirst is Algorithms with alg (a configured default) first.
func AlgorithmsFirst(alg string) []string {
	out := []string{alg}
	for _, a := range Algorithms() {
		if a != alg {
			out = append(out, a)
		}
	}
	return out
}

// supported lists the algorithms for go-jose's parser, which refuses any
// other alg before anything else is looked at.
var supported = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// supportedAlg reports whether alg is one latch signs with and accepts.
// alg is case-sensitive (RFC 7515 section 4.1.1), so it compares exactly:
// "none" and the HMAC family are refused whatever their case, HMAC because
// a verifier handed an HS256 token would use the public key as the shared
// secret (RFC 8725 sections 2.1 and 3.1). Checked before any key is looked
// up.
func supportedAlg(alg string) bool {
	return alg == RS256 || alg == ES256
}

// JWT types (the JOSE typ header) of the tokens latch signs.
const (
	// TypeAccessToken is the typ of access tokens (RFC 9068 section 2.1).
	TypeAccessToken = "at+jwt"
	// TypeJWT is the typ of ID tokens and of everything else latch signs.
	TypeJWT = "JWT"
)

// HasType reports whether a JOSE header's typ is typ. Media types compare
// case-insensitively and the "application/" prefix may be left out (RFC
// 7515 section 4.1.9), so "at+jwt", "AT+JWT" and "application/at+jwt" are
// one type (RFC 9068 section 4, RFC 8725 section 3.11). A missing typ is
// no type.
func HasType(header map[string]any, typ string) bool {
	got, _ := header["typ"].(string)
	return got != "" && sameType(got, typ)
}

func sameType(got, want string) bool {
	norm := func(s string) string {
		return strings.TrimPrefix(strings.ToLower(s), "application/")
	}
	return norm(got) == norm(want)
}

// sameIssuer reports whether the iss claim is iss, character for
// character (OIDC Core section 3.1.3.7: no normalisation, not even of a
// trailing slash).
func sameIssuer(claims map[string]any, iss string) bool {
	got, _ := claims["iss"].(string)
	return got == iss
}

// Leeway is the clock skew tolerated on nbf and iat.
const Leeway = time.Minute

// checkTimes judges the time claims of a token at now. exp is required, and
// from that second on the token is expired (ErrExpired) unless
// allowExpired; nbf and iat, when present, may lie at most leeway after
// now, for the skew between the clock that signed and the clock that
// checks. exp gets no leeway: a token's lifetime is not stretched by a
// slow clock.
func checkTimes(claims map[string]any, now time.Time, leeway time.Duration, allowExpired bool) error {
	exp, ok := numericDate(claims, "exp")
	if !ok {
		return fmt.Errorf("%w: no exp", ErrInvalidToken)
	}
	if !allowExpired && !now.Before(exp) {
		return ErrExpired
	}
	for _, name := range []string{"nbf", "iat"} {
		if t, ok := numericDate(claims, name); ok && t.After(now.Add(leeway)) {
			return fmt.Errorf("%w: %s in the future", ErrInvalidToken, name)
		}
	}
	return nil
}

// Expiry is the exp claim of claims Verify returned.
func Expiry(claims map[string]any) (time.Time, bool) { return numericDate(claims, "exp") }

// numericDate reads a NumericDate claim (RFC 7519 section 2): seconds,
// which JSON decodes as float64.
func numericDate(claims map[string]any, name string) (time.Time, bool) {
	switch v := claims[name].(type) {
	case float64:
		return time.Unix(int64(v), 0), true
	case int64:
		return time.Unix(v, 0), true
	}
	return time.Time{}, false
}
