package keys

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	// ErrWrongType: the typ header is not the one asked for (RequireType).
	ErrWrongType = fmt.Errorf("%w: wrong type", ErrInvalidToken)
	// ErrWrongIssuer: the iss claim is not the one asked for (RequireIssuer).
	ErrWrongIssuer = fmt.Errorf("%w: wrong issuer", ErrInvalidToken)
	// ErrNoSigningKey: no key of the algorithm is active (Init not run, or
	// the algorithm is not configured).
	ErrNoSigningKey = errors.New("keys: no active signing key")
)

// VerifyOption adjusts Verify.
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	allowExpired bool
	typ          string
	issuer       string
}

// AllowExpired makes Verify accept a token whose exp has passed, for
// id_token_hint (OIDC Core 3.1.2.1 and RP-Initiated Logout accept expired ID
// tokens there). The signature must still verify with a published key.
func AllowExpired() VerifyOption { return func(c *verifyConfig) { c.allowExpired = true } }

// RequireType makes Verify demand the JOSE typ header, e.g. TypeAccessToken
// for access tokens (RFC 9068 section 4), so that an ID token is not taken
// for an access token. The comparison is HasType's.
func RequireType(typ string) VerifyOption { return func(c *verifyConfig) { c.typ = typ } }

// RequireIssuer makes Verify demand the iss claim, exactly.
func RequireIssuer(iss string) VerifyOption { return func(c *verifyConfig) { c.issuer = iss } }

// Verify verifies a JWT latch signed and returns its header and claims. It
// is the one verifier of latch's own tokens: bearer access tokens at
// introspection and userinfo, id_token_hint at logout and, through the
// Signer's Decode, at the authorization endpoint.
//
// The token's alg must be one latch signs with ("none", HMAC and anything
// else are refused before any key is looked up) and its kid must name a key
// still published, of that alg; the signature must verify with it; then
// the rules of rules.go are applied in this order: exp must be present and
// in the future (unless AllowExpired), nbf and iat not in the future beyond
// Leeway, typ (RequireType), iss (RequireIssuer). Verify checks nothing
// else: aud and revocation are the caller's. Numbers in the claims are
// float64.
//
// Every failure wraps ErrInvalidToken; an expired token gives ErrExpired,
// an unknown kid ErrUnknownKey, a wrong typ ErrWrongType, a wrong iss
// ErrWrongIssuer.
func (m *Manager) Verify(ctx context.Context, token string, opts ...VerifyOption) (header, claims map[string]any, err error) {
	var cfg verifyConfig
	for _, o := range opts {
		o(&cfg)
	}
	_, header, claims, err = m.verify(token, cfg)
	return header, claims, err
}

// verify is Verify, also returning the key that verified the token.
func (m *Manager) verify(token string, cfg verifyConfig) (k *key, header, claims map[string]any, err error) {
	parsed, err := josejwt.ParseSigned(token, supported)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if len(parsed.Headers) != 1 {
		return nil, nil, nil, fmt.Errorf("%w: %d signatures", ErrInvalidToken, len(parsed.Headers))
	}
	h := parsed.Headers[0]
	now := m.now()
	k, err = m.verificationKey(h.KeyID, h.Algorithm, now)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := parsed.Claims(k.pub, &claims); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if claims == nil {
		return nil, nil, nil, fmt.Errorf("%w: no claims", ErrInvalidToken)
	}
	header = map[string]any{"alg": h.Algorithm, "kid": h.KeyID}
	for name, v := range h.ExtraHeaders {
		header[string(name)] = v
	}
	if err := checkTimes(claims, now, Leeway, cfg.allowExpired); err != nil {
		return nil, nil, nil, err
	}
	if cfg.typ != "" && !HasType(header, cfg.typ) {
		typ, _ := header["typ"].(string)
		return nil, nil, nil, fmt.Errorf("%w: typ %q, want %q", ErrWrongType, typ, cfg.typ)
	}
	if cfg.issuer != "" && !sameIssuer(claims, cfg.issuer) {
		return nil, nil, nil, ErrWrongIssuer
	}
	return k, header, claims, nil
}

// verificationKey returns the published key kid names, if its algorithm is
// alg. It is the one place a verification key is chosen.
func (m *Manager) verificationKey(kid, alg string, now time.Time) (*key, error) {
	if !supportedAlg(alg) {
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

// reservedHeader lists the JOSE header parameters a caller may not set:
// they select the key or algorithm, or change how the token is processed.
var reservedHeader = map[string]bool{
	"alg": true, "kid": true, "typ": true, "jku": true, "jwk": true,
	"x5u": true, "x5c": true, "x5t": true, "x5t#S256": true, "crit": true, "b64": true,
}
