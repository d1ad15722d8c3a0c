package rs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ErrInvalidToken is what every refused token's error matches
// (errors.Is): RFC 6750's invalid_token. The error's text says why,
// without the token.
var ErrInvalidToken = errors.New("rs: invalid token")

// ErrUnavailable is returned in strict mode when the issuer could not be
// asked whether a token is still active.
var ErrUnavailable = errors.New("rs: cannot introspect the token now")

// invalid is a refused token and why, in words fit for an
// error_description.
type invalid string

func (e invalid) Error() string        { return "rs: invalid token: " + string(e) }
func (e invalid) Is(target error) bool { return target == ErrInvalidToken }

// description is what a client is told of err.
func description(err error) string {
	var e invalid
	if errors.As(err, &e) {
		return string(e)
	}
	var p badProof
	if errors.As(err, &p) {
		return string(p)
	}
	return "The access token is invalid."
}

// maxTokenLength bounds what is parsed at all.
const maxTokenLength = 16 << 10

// Verify checks token offline (and, in strict mode, by introspection) and
// returns its claims. The claims may be shared with other requests that
// present the same token: do not modify them. A DPoP-bound token (cnf) is
// refused: its proof comes with the request, so verify it with
// VerifyRequest or the middleware.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := v.verifyToken(ctx, token)
	if err == nil && c.JKT != "" {
		return nil, invalid("The access token is DPoP-bound: it is accepted only with a DPoP proof of its key.")
	}
	return c, err
}

// verifyToken is Verify for tokens of either kind.
func (v *Verifier) verifyToken(ctx context.Context, token string) (*Claims, error) {
	now := time.Now()
	v.keys.touch()
	// Read before verifying: a key withdrawn meanwhile makes this
	// verification's cache entry stale at once.
	generation := v.keys.generation.Load()
	c, ok := v.verified.get(token, now, generation)
	if !ok {
		var err error
		if c, err = v.verifyJWT(ctx, token, now); err != nil {
			return nil, err
		}
		v.verified.put(token, c, generation)
	}
	if v.introspect != nil {
		if err := v.introspect.check(ctx, token, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (v *Verifier) verifyJWT(ctx context.Context, token string, now time.Time) (*Claims, error) {
	if len(token) > maxTokenLength {
		return nil, invalid("The access token is too long.")
	}
	tok, err := jwt.ParseSigned(token, signatureAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, invalid("The access token is not a JWT signed with an accepted algorithm.")
	}
	h := tok.Headers[0]
	if !accessTokenType(h.ExtraHeaders[jose.HeaderType]) {
		return nil, invalid("The token is not an access token (typ at+jwt).")
	}
	key, err := v.keys.key(ctx, h.KeyID)
	if err != nil {
		return nil, invalid("The access token is signed by an unknown key.")
	}
	if key.Algorithm != "" && key.Algorithm != h.Algorithm {
		return nil, invalid("The access token's algorithm is not its key's.")
	}
	raw := map[string]any{}
	if err := tok.Claims(key.Key, &raw); err != nil {
		return nil, invalid("The access token's signature is not valid.")
	}
	if err := v.checkClaims(raw, now); err != nil {
		return nil, err
	}
	return fromRaw(raw), nil
}

// accessTokenType accepts RFC 9068's typ, which compares case-insensitively
// and may carry the application/ prefix (RFC 7515 section 4.1.9).
func accessTokenType(v any) bool {
	typ, _ := v.(string)
	typ = strings.ToLower(typ)
	return typ == "at+jwt" || typ == "application/at+jwt"
}

// checkClaims checks the registered claims, and the types of those the
// middleware reads.
func (v *Verifier) checkClaims(raw map[string]any, now time.Time) error {
	if iss, _ := raw["iss"].(string); iss != v.cfg.Issuer {
		return invalid("The access token was issued by someone else.")
	}
	aud, ok := audience(raw["aud"])
	if !ok || !slices.Contains(aud, v.cfg.Audience) {
		return invalid("The access token is not meant for this API.")
	}
	for _, name := range []string{"sub", "client_id", "scope", "role", "sid", "jti"} {
		if x, present := raw[name]; present {
			if _, isString := x.(string); !isString {
				return invalid("The access token's " + name + " is malformed.")
			}
		}
	}
	if _, ok := boundKey(raw); !ok {
		return invalid("The access token's cnf is not a DPoP key binding.")
	}
	leeway := v.cfg.Leeway
	exp, ok := numericDate(raw, "exp")
	switch {
	case !ok || exp.IsZero():
		return invalid("The access token has no valid expiry.")
	case !now.Before(exp.Add(leeway)):
		return invalid("The access token has expired.")
	}
	for _, name := range []string{"nbf", "iat", "auth_time"} {
		at, present := numericDate(raw, name)
		switch {
		case present && at.IsZero():
			return invalid("The access token's " + name + " is malformed.")
		case present && name != "auth_time" && at.After(now.Add(leeway)):
			return invalid("The access token is not valid yet.")
		}
	}
	return nil
}
