package keys

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

var (
	// ErrInvalidToken is returned (wrapped) for every token that fails
	// verification; the errors below wrap it too.
	ErrInvalidToken = errors.New("keys: invalid token")
	// ErrUnknownKey: the token's kid names no published key, or a key of
	// another algorithm than the token's alg.
	ErrUnknownKey = fmt.Errorf("%w: unknown signing key", ErrInvalidToken)
	// ErrExpired: the signature is good but the token expired.
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalidToken)
	// ErrNoSigningKey: no key of the algorithm is active (Init not run, or
	// the algorithm is not configured).
	ErrNoSigningKey = errors.New("keys: no active signing key")
)

// Leeway is the clock skew tolerated on nbf and iat.
const Leeway = time.Minute

// VerifyOption adjusts Verify.
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	allowExpired bool
	typ          string
}

// AllowExpired makes Verify accept a token whose exp has passed, for
// id_token_hint (OIDC Core 3.1.2.1 and RP-Initiated Logout accept expired ID
// tokens there). The signature must still verify with a published key.
func AllowExpired() VerifyOption { return func(c *verifyConfig) { c.allowExpired = true } }

// RequireType makes Verify demand the JOSE typ header, e.g. "at+jwt" for
// access tokens (RFC 9068 section 4), so that an ID token is not taken for
// an access token. The comparison ignores case and an "application/" prefix.
func RequireType(typ string) VerifyOption { return func(c *verifyConfig) { c.typ = typ } }

// Verify verifies a JWT latch signed and returns its header and claims.
// The token's kid must name a key still published, of the token's alg
// ("none" and unsupported algorithms are refused before any key is looked
// up); the signature must verify with it; exp must be present and in the
// future (unless AllowExpired) and nbf, iat not in the future beyond
// Leeway. Verify checks nothing else: iss, aud, typ (unless RequireType)
// and revocation are the caller's. Numbers in the claims are float64.
//
// Every failure wraps ErrInvalidToken; an expired token gives ErrExpired,
// an unknown kid ErrUnknownKey.
func (m *Manager) Verify(ctx context.Context, token string, opts ...VerifyOption) (header, claims map[string]any, err error) {
	var cfg verifyConfig
	for _, o := range opts {
		o(&cfg)
	}
	parsed, err := josejwt.ParseSigned(token, supported)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if len(parsed.Headers) != 1 {
		return nil, nil, fmt.Errorf("%w: %d signatures", ErrInvalidToken, len(parsed.Headers))
	}
	h := parsed.Headers[0]
	now := m.now()
	k, err := m.verificationKey(h.KeyID, h.Algorithm, now)
	if err != nil {
		return nil, nil, err
	}
	if err := parsed.Claims(k.pub, &claims); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if claims == nil {
		return nil, nil, fmt.Errorf("%w: no claims", ErrInvalidToken)
	}
	header = map[string]any{"alg": h.Algorithm, "kid": h.KeyID}
	for name, v := range h.ExtraHeaders {
		header[string(name)] = v
	}
	if cfg.typ != "" {
		typ, _ := header["typ"].(string)
		if !sameType(typ, cfg.typ) {
			return nil, nil, fmt.Errorf("%w: typ %q, want %q", ErrInvalidToken, typ, cfg.typ)
		}
	}
	exp, ok := numericDate(claims, "exp")
	if !ok {
		return nil, nil, fmt.Errorf("%w: no exp", ErrInvalidToken)
	}
	if !cfg.allowExpired && !now.Before(exp) {
		return nil, nil, ErrExpired
	}
	for _, name := range []string{"nbf", "iat"} {
		if t, ok := numericDate(claims, name); ok && t.After(now.Add(Leeway)) {
			return nil, nil, fmt.Errorf("%w: %s in the future", ErrInvalidToken, name)
		}
	}
	return header, claims, nil
}

// verificationKey returns the published key kid names, if its algorithm is
// alg. It is the one place both Verify and the fosite adapter choose a key.
func (m *Manager) verificationKey(kid, alg string, now time.Time) (*key, error) {
	if alg == "" || strings.EqualFold(alg, "none") || !supportedAlg(alg) {
		return nil, fmt.Errorf("%w: alg %q not accepted", ErrInvalidToken, alg)
	}
	if kid == "" {
		return nil, fmt.Errorf("%w: no kid", ErrInvalidToken)
	}
	k := m.ring.Load().byID[kid]
	if k == nil || k.alg != alg || !k.published(now, m.opts.Retain) {
		return nil, ErrUnknownKey
	}
	return k, nil
}

func numericDate(claims map[string]any, name string) (time.Time, bool) {
	switch v := claims[name].(type) {
	case float64:
		return time.Unix(int64(v), 0), true
	case int64:
		return time.Unix(v, 0), true
	}
	return time.Time{}, false
}

// sameType compares typ header values as RFC 7515 section 4.1.9 says.
func sameType(got, want string) bool {
	norm := func(s string) string {
		s = strings.ToLower(s)
		return strings.TrimPrefix(s, "application/")
	}
	return subtle.ConstantTimeCompare([]byte(norm(got)), []byte(norm(want))) == 1
}

// sign signs payload as a compact JWS with typ and the extra headers. kid
// and alg always come from the key: header entries that would choose the
// verification key or algorithm are dropped.
func (k *key) sign(payload []byte, typ string, extra map[string]any) (string, error) {
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	for name, v := range extra {
		if reservedHeader[name] {
			continue
		}
		opts = opts.WithHeader(jose.HeaderKey(name), v)
	}
	s, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(k.alg),
		Key:       jose.JSONWebKey{Key: k.priv, KeyID: k.id, Algorithm: k.alg},
	}, opts)
	if err != nil {
		return "", fmt.Errorf("keys: signer for key %s: %w", k.id, err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("keys: sign with key %s: %w", k.id, err)
	}
	return jws.CompactSerialize()
}

// reservedHeader lists the JOSE header parameters a caller may not set:
// they select the key or algorithm, or change how the token is processed.
var reservedHeader = map[string]bool{
	"alg": true, "kid": true, "typ": true, "jku": true, "jwk": true,
	"x5u": true, "x5c": true, "x5t": true, "x5t#S256": true, "crit": true, "b64": true,
}
