package provider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"

	"github.com/latch-idp/latch/storage"
)

// accessTokenType is the JWT typ of access tokens (RFC 9068 section 2.1).
const accessTokenType = "at+jwt"

// strategy issues RFC 9068 JWT access tokens and HMAC authorization codes
// and refresh tokens. fosite's own JWT strategy writes typ "JWT", scopes as
// an array under "scp", no client_id, and an empty aud unless an audience
// was granted: resource servers following RFC 9068 would reject it.
type strategy struct {
	*oauth2.HMACSHAStrategyUnPrefixed
	signer jwt.Signer
	issuer string
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

// jwtExpiry reads the exp claim of a token already verified.
func jwtExpiry(token string) (time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, errors.New("provider: not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, err
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Exp == 0 {
		return time.Time{}, errors.New("provider: no exp")
	}
	return time.Unix(c.Exp, 0), nil
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
	sess, ok := req.GetSession().(*storage.Session)
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
	aud := []string(req.GetGrantedAudience())
	if len(aud) == 0 {
		aud = []string{clientID}
	}
	claims := jwt.MapClaims{
		"iss":       s.issuer,
		"sub":       sess.GetSubject(),
		"aud":       aud,
		"client_id": clientID,
		"scope":     strings.Join(req.GetGrantedScopes(), " "),
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
	header := &jwt.Headers{Extra: map[string]interface{}{"typ": accessTokenType}}
	return s.signer.Generate(ctx, claims, header)
}

// ValidateAccessToken checks the signature (against the key the token's kid
// names), the type and the expiry. Whether the token was revoked is decided
// by its session in Redis, which fosite's validator looks up.
func (s *strategy) ValidateAccessToken(ctx context.Context, _ fosite.Requester, token string) error {
	key := sha256.Sum256([]byte(token))
	if s.verified.valid(key, time.Now()) {
		return nil
	}
	if err := s.validate(ctx, token); err != nil {
		return err
	}
	if exp, err := jwtExpiry(token); err == nil {
		s.verified.add(key, exp)
	}
	return nil
}

func (s *strategy) validate(ctx context.Context, token string) error {
	t, err := s.signer.Decode(ctx, token)
	if err != nil {
		var ve *jwt.ValidationError
		if errors.As(err, &ve) && ve.Has(jwt.ValidationErrorExpired) {
			return fosite.ErrTokenExpired.WithWrap(err)
		}
		return fosite.ErrTokenSignatureMismatch.WithWrap(err)
	}
	if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, accessTokenType) {
		return fosite.ErrTokenSignatureMismatch.WithHint("The token is not an access token.")
	}
	if err := t.Claims.Valid(); err != nil {
		return fosite.ErrTokenExpired.WithWrap(err)
	}
	if iss, _ := t.Claims["iss"].(string); iss != s.issuer {
		return fosite.ErrTokenClaim.WithHint("The token was issued by someone else.")
	}
	return nil
}
