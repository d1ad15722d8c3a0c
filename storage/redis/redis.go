// Package redis keeps fosite's short-lived protocol state in Redis:
// authorization codes with their PKCE and OpenID Connect sessions, and the
// sessions of access tokens, which expire with the token. Every key carries a
// TTL; what must be consumed once is consumed with one atomic operation.
//
// Access-token sessions are indexed by grant (request ID) and by user, so a
// whole family or a whole user can be revoked at once.
package redis

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/storage"
)

var (
	_ oauth2.AuthorizeCodeStorage        = (*Store)(nil)
	_ oauth2.AccessTokenStorage          = (*Store)(nil)
	_ pkce.PKCERequestStorage            = (*Store)(nil)
	_ openid.OpenIDConnectRequestStorage = (*Store)(nil)
)

// ClientGetter loads a client by ID, for requests read back from Redis.
type ClientGetter func(ctx context.Context, id string) (fosite.Client, error)

// Store is the Redis store of short-lived protocol state.
type Store struct {
	rdb       goredis.UniversalClient
	getClient ClientGetter
	// codeTTL is how long a code record lives; longer than the code's own
	// lifetime so that a reuse is still recognised after expiry.
	codeTTL time.Duration
	// maxAccessTTL bounds how long an access-token session and its indexes
	// live.
	maxAccessTTL time.Duration
}

// New returns a store. codeTTL is the authorization code lifespan and
// accessTTL the access token lifespan.
func New(rdb goredis.UniversalClient, getClient ClientGetter, codeTTL, accessTTL time.Duration) *Store {
	return &Store{rdb: rdb, getClient: getClient, codeTTL: 2 * codeTTL, maxAccessTTL: accessTTL + time.Minute}
}

const (
	prefixCode     = "latch:code:"
	prefixCodeUsed = "latch:codeused:"
	prefixPKCE     = "latch:pkce:"
	prefixOIDC     = "latch:oidc:"
	prefixAccess   = "latch:at:"
	prefixByGrant  = "latch:atgrant:"
	prefixByUser   = "latch:atuser:"
)

// CreateAuthorizeCodeSession stores the request behind a code.
func (s *Store) CreateAuthorizeCodeSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.createSimple(ctx, prefixCode+signature, req)
}

// GetAuthorizeCodeSession returns the request behind a code; for a used code
// it returns the request and fosite.ErrInvalidatedAuthorizeCode.
func (s *Store) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	vals, err := s.rdb.MGet(ctx, prefixCode+signature, prefixCodeUsed+signature).Result()
	if err != nil {
		return nil, err
	}
	data, ok := vals[0].(string)
	if !ok {
		return nil, fosite.ErrNotFound
	}
	req, err := s.request(ctx, []byte(data), session)
	if err != nil {
		return nil, err
	}
	if vals[1] != nil {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession marks a code used with SET NX, so of two
// racing exchanges exactly one wins; the loser gets
// fosite.ErrInvalidatedAuthorizeCode. The code record stays until it expires
// so that a later reuse is still recognised.
func (s *Store) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	ok, err := s.rdb.SetNX(ctx, prefixCodeUsed+signature, 1, s.codeTTL).Result()
	if err != nil {
		return err
	}
	if !ok {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	return nil
}

func (s *Store) createSimple(ctx context.Context, key string, req fosite.Requester) error {
	data, err := storage.MarshalRequest(req)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, key, data, s.codeTTL).Err()
}

func (s *Store) getSimple(ctx context.Context, key string, session fosite.Session) (fosite.Requester, error) {
	b, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fosite.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	return s.request(ctx, b, session)
}

// CreatePKCERequestSession stores a code's PKCE challenge.
func (s *Store) CreatePKCERequestSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.createSimple(ctx, prefixPKCE+signature, req)
}

// GetPKCERequestSession returns a code's PKCE request.
func (s *Store) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.getSimple(ctx, prefixPKCE+signature, session)
}

// DeletePKCERequestSession deletes a code's PKCE request.
func (s *Store) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return s.rdb.Del(ctx, prefixPKCE+signature).Err()
}

// CreateOpenIDConnectSession stores a code's OpenID Connect request.
func (s *Store) CreateOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.createSimple(ctx, prefixOIDC+code, req)
}

// GetOpenIDConnectSession returns a code's OpenID Connect request.
func (s *Store) GetOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) (fosite.Requester, error) {
	r, err := s.getSimple(ctx, prefixOIDC+code, req.GetSession())
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, openid.ErrNoSessionFound
	}
	return r, err
}

// DeleteOpenIDConnectSession deletes a code's OpenID Connect request.
func (s *Store) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.rdb.Del(ctx, prefixOIDC+code).Err()
}

// CreateAccessTokenSession stores an access token's session until the token
// expires, indexed by grant and by user.
func (s *Store) CreateAccessTokenSession(ctx context.Context, signature string, req fosite.Requester) error {
	data, err := storage.MarshalRequest(req)
	if err != nil {
		return err
	}
	ttl := s.maxAccessTTL
	if exp := req.GetSession().GetExpiresAt(fosite.AccessToken); !exp.IsZero() {
		if d := time.Until(exp) + time.Minute; d < ttl {
			ttl = d
		}
	}
	if ttl <= 0 {
		return nil
	}
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, prefixAccess+signature, data, ttl)
	pipe.SAdd(ctx, prefixByGrant+req.GetID(), signature)
	pipe.Expire(ctx, prefixByGrant+req.GetID(), s.maxAccessTTL)
	if sub := req.GetSession().GetSubject(); sub != "" && sub != req.GetClient().GetID() {
		pipe.SAdd(ctx, prefixByUser+sub, signature)
		pipe.Expire(ctx, prefixByUser+sub, s.maxAccessTTL)
	}
	_, err = pipe.Exec(ctx)
	return err
}

// GetAccessTokenSession returns an access token's session; a revoked or
// expired token is not found.
func (s *Store) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.getSimple(ctx, prefixAccess+signature, session)
}

// DeleteAccessTokenSession deletes one access token's session.
func (s *Store) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.rdb.Del(ctx, prefixAccess+signature).Err()
}

// RevokeAccessToken revokes every access token of a grant.
func (s *Store) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.revokeSet(ctx, prefixByGrant+requestID)
}

// RevokeAccessTokens revokes every access token of several grants.
func (s *Store) RevokeAccessTokens(ctx context.Context, requestIDs []string) error {
	for _, id := range requestIDs {
		if err := s.RevokeAccessToken(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// RevokeUserAccessTokens revokes every access token issued to the user.
func (s *Store) RevokeUserAccessTokens(ctx context.Context, userID string) error {
	return s.revokeSet(ctx, prefixByUser+userID)
}

func (s *Store) revokeSet(ctx context.Context, index string) error {
	sigs, err := s.rdb.SMembers(ctx, index).Result()
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(sigs))
	for _, sig := range sigs {
		keys = append(keys, prefixAccess+sig)
	}
	pipe := s.rdb.Pipeline()
	for _, k := range keys {
		pipe.Del(ctx, k)
	}
	pipe.Del(ctx, index)
	_, err = pipe.Exec(ctx)
	return err
}

func (s *Store) request(ctx context.Context, data []byte, session fosite.Session) (fosite.Requester, error) {
	clientID, err := storage.RequestClientID(data)
	if err != nil {
		return nil, err
	}
	client, err := s.getClient(ctx, clientID)
	if err != nil {
		// A grant of a deleted client is gone with it.
		if errors.Is(err, fosite.ErrNotFound) || errors.Is(err, storage.ErrNotFound) {
			return nil, fosite.ErrNotFound
		}
		return nil, err
	}
	return storage.UnmarshalRequest(data, session, client)
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// RevokeUserClientAccessTokens revokes the user's access tokens issued to
// one client.
func (s *Store) RevokeUserClientAccessTokens(ctx context.Context, userID, clientID string) error {
	sigs, err := s.rdb.SMembers(ctx, prefixByUser+userID).Result()
	if err != nil {
		return err
	}
	for _, sig := range sigs {
		b, err := s.rdb.Get(ctx, prefixAccess+sig).Bytes()
		if errors.Is(err, goredis.Nil) {
			s.rdb.SRem(ctx, prefixByUser+userID, sig)
			continue
		} else if err != nil {
			return err
		}
		cid, err := storage.RequestClientID(b)
		if err != nil || cid != clientID {
			continue
		}
		if err := s.rdb.Del(ctx, prefixAccess+sig).Err(); err != nil {
			return err
		}
		s.rdb.SRem(ctx, prefixByUser+userID, sig)
	}
	return nil
}

const prefixJTI = "latch:jti:"

// ClientAssertionUnused returns fosite.ErrJTIKnown when a client assertion
// with this jti was already used.
func (s *Store) ClientAssertionUnused(ctx context.Context, jti string) error {
	n, err := s.rdb.Exists(ctx, prefixJTI+jti).Result()
	if err != nil {
		return err
	}
	if n > 0 {
		return fosite.ErrJTIKnown
	}
	return nil
}

// MarkClientAssertion records a client assertion's jti until exp, with SET
// NX: of two racing uses of one assertion, the second gets
// fosite.ErrJTIKnown.
func (s *Store) MarkClientAssertion(ctx context.Context, jti string, exp time.Time) error {
	ttl := time.Until(exp) + time.Minute
	if ttl < time.Minute {
		ttl = time.Minute
	}
	ok, err := s.rdb.SetNX(ctx, prefixJTI+jti, 1, ttl).Result()
	if err != nil {
		return err
	}
	if !ok {
		return fosite.ErrJTIKnown
	}
	return nil
}
