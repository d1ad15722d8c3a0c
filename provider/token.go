package provider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"

	"github.com/latch-idp/latch/keys"
)

// strategy issues RFC 9068 JWT access tokens and HMAC authorization codes
// and refresh tokens. fosite's own JWT strategy writes typ "JWT", scopes as
// an array under "scp", no client_id, and an empty aud unless an audience
// was granted: resource servers following RFC 9068 would reject it.
type strategy struct {
	*oauth2.HMACSHAStrategyUnPrefixed
	signer jwt.Signer
	// verifier checks access tokens presented back to latch.
	verifier Verifier
	issuer   string
	// resources decide which of the grant's scopes a token carries.
	resources *resourceCache
	// verified remembers access tokens whose signature and claims were
	// checked, until they expire: introspection and userinfo see the same
	// token again and again. Revocation is decided by the token's session
	// in Redis, which is looked up every time.
	verified verifiedTokens
}

// verifiedTokens maps the SHA-256 of a verified token to its expiry.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[[32]byte]time.Time
}

// maxVerified bounds the cache; when full it starts over.
const maxVerified = 100_000

func (v *verifiedTokens) valid(key [32]byte, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	exp, ok := v.m[key]
	return ok && now.Before(exp)
}

func (v *verifiedTokens) add(key [32]byte, exp time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerified {
		v.m = make(map[[32]byte]time.Time)
	}
	v.m[key] = exp
}

var _ oauth2.CoreStrategy = (*strategy)(nil)

// AccessTokenSignature is the JWT's signature part, which keys its session.
func (s *strategy) AccessTokenSignature(ctx context.Context, token string) string {
	if i := strings.LastIndexByte(token, '.'); i >= 0 {
		return token[i+1:]
	}
	return ""
}

// GenerateAccessToken signs an RFC 9068 access token for the request.
func (s *strategy) GenerateAccessToken(ctx context.Context, req fosite.Requester) (string, string, error) {
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return "", "", errors.New("provider: unexpected session type")
	}
	now := time.Now().UTC()
	exp := sess.GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		return "", "", errors.New("provider: access token expiry not set")
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", "", err
	}
	clientID := req.GetClient().GetID()
	// The token endpoint decided the audience (targetAccessToken); the
	// scopes follow from it.
	scopes, err := s.resources.tokenScopes(ctx, req.GetGrantedScopes(), sess.Audience)
	if err != nil {
		return "", "", err
	}
	sess.Scope = scopes
	claims := jwt.MapClaims{
		"iss":       s.issuer,
		"sub":       sess.GetSubject(),
		"aud":       accessTokenAudience(s.issuer, sess.Audience, scopes),
		"client_id": clientID,
		"scope":     strings.Join(scopes, " "),
		"jti":       base64.RawURLEncoding.EncodeToString(jti),
		"iat":       now.Unix(),
		"exp":       exp.Unix(),
	}
	if sess.Role != "" {
		claims["role"] = sess.Role
	}
	if c := sess.IDTokenClaims(); c != nil && !c.AuthTime.IsZero() {
		claims["auth_time"] = c.AuthTime.Unix()
	}
	if sess.SID != "" {
		claims["sid"] = sess.SID
	}
	if sess.JKT != "" {
		// RFC 9449 section 6.1: the token is bound to the client's key.
		claims["cnf"] = map[string]any{"jkt": sess.JKT}
	}
	header := &jwt.Headers{Extra: map[string]interface{}{"typ": keys.TypeAccessToken}}
	return s.signer.Generate(ctx, claims, header)
}

// ValidateAccessToken checks the signature (against the key the token's kid
// names), the expiry, the type and the issuer. Whether the token was
// revoked is decided by its session in Redis, which fosite's validator
// looks up.
func (s *strategy) ValidateAccessToken(ctx context.Context, _ fosite.Requester, token string) error {
	key := sha256.Sum256([]byte(token))
	if s.verified.valid(key, time.Now()) {
		return nil
	}
	_, claims, err := s.verifier.Verify(ctx, token, keys.RequireType(keys.TypeAccessToken), keys.RequireIssuer(s.issuer))
	switch {
	case errors.Is(err, keys.ErrExpired):
		return fosite.ErrTokenExpired.WithWrap(err)
	case errors.Is(err, keys.ErrWrongType):
		return fosite.ErrTokenSignatureMismatch.WithHint("The token is not an access token.")
	case errors.Is(err, keys.ErrWrongIssuer):
		return fosite.ErrTokenClaim.WithHint("The token was issued by someone else.")
	case err != nil:
		return fosite.ErrTokenSignatureMismatch.WithWrap(err)
	}
	if exp, ok := keys.Expiry(claims); ok {
		s.verified.add(key, exp)
	}
	return nil
}

// gatedTokenHandler asks a token endpoint handler whether it handles the
// request before fosite has it build the response. fosite asks every
// handler to build it, and each that does not handle the grant answers
// with fosite.ErrUnknownRequest wrapped with a stack trace: collecting
// the callers was 7% of a client_credentials request's CPU. fosite already
// asks CanHandleTokenEndpointRequest before HandleTokenEndpointRequest.
type gatedTokenHandler struct{ fosite.TokenEndpointHandler }

func (g gatedTokenHandler) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	return g.TokenEndpointHandler.PopulateTokenEndpointResponse(ctx, req, resp)
}
