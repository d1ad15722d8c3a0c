package rs

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Claims are a verified access token's claims (RFC 9068 and latch's own).
type Claims struct {
	Issuer    string
	Subject   string // a user's ID, or the client's ID for a client's own token
	ClientID  string
	Audience  []string
	Scopes    []string
	Role      string // the user's role ("admin" or "user"); empty for a client's token
	SessionID string // the sign-in session (sid) of a user's token
	JWTID     string
	IssuedAt  time.Time
	ExpiresAt time.Time
	NotBefore time.Time // zero when the token has no nbf
	AuthTime  time.Time // when the user signed in; zero for a client's token
	// JKT is the thumbprint of the DPoP key the token is bound to (cnf.jkt,
	// RFC 9449); empty for a bearer token.
	JKT string
	// Raw holds every claim as decoded from JSON.
	Raw map[string]any
}

// RoleAdmin is the role of latch's administrators.
const RoleAdmin = "admin"

// IsUser reports whether the token was issued to a client on behalf of a
// user. A client's own token (client_credentials) has the client as its
// subject.
func (c *Claims) IsUser() bool { return c.Subject != "" && c.Subject != c.ClientID }

// IsClient reports whether the token is a client's own (client_credentials).
func (c *Claims) IsClient() bool { return c.ClientID != "" && c.Subject == c.ClientID }

// IsAdmin reports whether the token has a user whose role is admin.
func (c *Claims) IsAdmin() bool { return c.IsUser() && c.Role == RoleAdmin }

// HasScope reports whether the token holds every one of scopes.
func (c *Claims) HasScope(scopes ...string) bool {
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			return false
		}
	}
	return true
}

// missing returns those of scopes the token does not hold.
func (c *Claims) missing(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			out = append(out, s)
		}
	}
	return out
}

type claimsKey struct{}

// verified are claims in a context, with the verifier that checked them:
// middleware of the same verifier need not check the token again.
type verified struct {
	by *Verifier
	c  *Claims
}

// ClaimsFrom returns the claims the middleware verified for this request.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	v, ok := ctx.Value(claimsKey{}).(verified)
	return v.c, ok
}

// WithClaims returns ctx carrying c, as the middleware does; for tests of
// handlers that read ClaimsFrom.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, verified{c: c})
}

// fromRaw reads the registered and latch's claims out of raw; verify has
// checked their types already.
func fromRaw(raw map[string]any) *Claims {
	c := &Claims{Raw: raw}
	c.Issuer, _ = raw["iss"].(string)
	c.Subject, _ = raw["sub"].(string)
	c.ClientID, _ = raw["client_id"].(string)
	c.Role, _ = raw["role"].(string)
	c.SessionID, _ = raw["sid"].(string)
	c.JWTID, _ = raw["jti"].(string)
	c.Audience, _ = audience(raw["aud"])
	if s, ok := raw["scope"].(string); ok {
		c.Scopes = strings.Fields(s)
	}
	c.IssuedAt, _ = numericDate(raw, "iat")
	c.ExpiresAt, _ = numericDate(raw, "exp")
	c.NotBefore, _ = numericDate(raw, "nbf")
	c.AuthTime, _ = numericDate(raw, "auth_time")
	c.JKT, _ = boundKey(raw)
	return c
}

// audience reads aud, a string or an array of strings (RFC 7519 section
// 4.1.3).
func audience(v any) ([]string, bool) {
	switch a := v.(type) {
	case string:
		return []string{a}, true
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// numericDate reads a NumericDate claim; ok is false when it is absent,
// and the zero time with ok true means it is malformed.
func numericDate(raw map[string]any, name string) (time.Time, bool) {
	v, present := raw[name]
	if !present {
		return time.Time{}, false
	}
	f, isNum := v.(float64)
	if !isNum || f < 0 || f > 1e11 {
		return time.Time{}, true
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
}
