package keys

// This file is the boundary with fosite, whose token/jwt package is built
// on go-jose v3. Keys never cross it: tokens are signed here with go-jose
// v4, and verification hands fosite's parser a crypto public key, which
// both versions take, so fosite's v3 types stay inside fosite.

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	fjwt "github.com/ory/fosite/token/jwt"
)

var _ fjwt.Signer = (*Signer)(nil)

// Signer is fosite's jwt.Signer over the Manager's keys, for one
// algorithm. Use it as the Signer of fosite's openid.DefaultStrategy and
// oauth2.DefaultJWTStrategy.
type Signer struct {
	m   *Manager
	alg string
}

// Signer returns the fosite signer for alg. alg must be one of
// Options.Algorithms: asking for another is a wiring mistake and panics,
// at start rather than at the first token.
func (m *Manager) Signer(alg string) *Signer {
	if !slices.Contains(m.opts.Algorithms, alg) {
		panic(fmt.Sprintf("keys: Signer(%q): algorithm not configured (have %v)", alg, m.opts.Algorithms))
	}
	return &Signer{m: m, alg: alg}
}

// Generate signs claims with the current key of the signer's algorithm,
// chosen at this call. The key's kid is set in the header; a kid (or alg)
// in header is ignored, since fosite stores session headers with the
// session and they would outlive the key. A "typ" in header is honoured
// ("at+jwt" for RFC 9068 access tokens); the default is "JWT".
func (s *Signer) Generate(ctx context.Context, claims fjwt.MapClaims, header fjwt.Mapper) (token, signature string, err error) {
	if claims == nil || header == nil {
		return "", "", errors.New("keys: claims and header must not be nil")
	}
	k := s.m.ring.Load().current(s.alg, s.m.now())
	if k == nil {
		return "", "", fmt.Errorf("%w for %s", ErrNoSigningKey, s.alg)
	}
	extra := header.ToMap()
	typ := TypeJWT
	if t, ok := extra["typ"].(string); ok && t != "" {
		typ = t
	}
	payload, err := json.Marshal(map[string]any(claims))
	if err != nil {
		return "", "", fmt.Errorf("keys: encode claims: %w", err)
	}
	token, err = k.sign(payload, typ, extra)
	if err != nil {
		return "", "", err
	}
	signature, err = s.GetSignature(ctx, token)
	return token, signature, err
}

// Decode verifies token by Verify's rules, expired tokens allowed, and
// returns it as fosite's token. fosite decodes only id_token_hint values
// with it (at the authorization endpoint, and again when it issues the ID
// token), and accepts an expired hint by the *jwt.ValidationError that
// fosite's own parser reports along with the token. So the token, verified,
// goes through that parser once more, with the key Verify chose: it builds
// the token fosite expects and reports expiry its way. Its own time rules
// (no leeway on iat and nbf) can only refuse more, never accept a token
// Verify refused.
func (s *Signer) Decode(ctx context.Context, token string) (*fjwt.Token, error) {
	k, _, _, err := s.m.verify(token, verifyConfig{allowExpired: true})
	if err != nil {
		return nil, err
	}
	return fjwt.ParseWithClaims(token, fjwt.MapClaims{}, func(*fjwt.Token) (any, error) {
		return k.pub, nil
	})
}

// Validate verifies token like Decode and returns its signature.
func (s *Signer) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

// GetSignature returns the signature part of token without verifying it,
// as fosite's DefaultSigner does: fosite uses it as a lookup key, and
// verification is Validate's job.
func (s *Signer) GetSignature(ctx context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("keys: a JWT has a header, a body and a signature")
	}
	return parts[2], nil
}

// Hash hashes with the hash function of the signer's algorithm (at_hash,
// c_hash). RS256 and ES256 both use SHA-256.
func (s *Signer) Hash(ctx context.Context, in []byte) ([]byte, error) {
	sum := sha256.Sum256(in)
	return sum[:], nil
}

// GetSigningMethodLength is the output size of Hash.
func (s *Signer) GetSigningMethodLength(ctx context.Context) int {
	return sha256.Size
}
