// Package redis keeps latch's short-lived protocol state in Redis:
// authorization codes with their PKCE and OpenID Connect records, the
// sessions of access tokens (which expire with the token), pushed
// authorization requests and used client-assertion IDs. Every key carries a
// TTL; what must be consumed once is consumed with one atomic operation.
//
// It stores grants as opaque bytes, serialized by their owner (provider),
// with the few facts it indexes them by: access-token sessions are indexed
// by grant (request ID) and by user, so a whole family or a whole user can
// be revoked at once. It knows nothing of the OAuth library, and every
// lifetime is its caller's: it never decides how long a thing lives.
package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/storage"
)

// ErrUsed is returned when a single-use value (an authorization code, a
// client assertion) was used already.
var ErrUsed = errors.New("redis: already used")

// Kind is the sort of a record kept by its ID alone.
type Kind string

// The records kept by ID. The values are the key prefixes.
const (
	Code        Kind = "latch:code:" // an authorization code's grant
	PKCE        Kind = "latch:pkce:" // a code's PKCE challenge
	OIDC        Kind = "latch:oidc:" // a code's OpenID Connect request
	AccessToken Kind = "latch:at:"   // an access token's session (PutAccessToken)
)

const (
	prefixCodeUsed = "latch:codeused:"
	prefixByGrant  = "latch:atgrant:"
	prefixByUser   = "latch:atuser:"
)

// Store is the Redis store of short-lived protocol state.
type Store struct {
	rdb goredis.UniversalClient
	// clientOf reads the client ID out of a stored grant; it is given by
	// the grants' owner, which alone knows their form.
	clientOf func(data []byte) (string, error)
}

// New returns a store. clientOf reads the client ID of a stored grant.
func New(rdb goredis.UniversalClient, clientOf func(data []byte) (string, error)) *Store {
	return &Store{rdb: rdb, clientOf: clientOf}
}

// Put stores data under kind and id for ttl.
func (s *Store) Put(ctx context.Context, kind Kind, id string, data []byte, ttl time.Duration) error {
	return s.rdb.Set(ctx, string(kind)+id, data, ttl).Err()
}

// Get returns what is stored under kind and id; storage.ErrNotFound when
// nothing is (or it expired).
func (s *Store) Get(ctx context.Context, kind Kind, id string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, string(kind)+id).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, storage.ErrNotFound
	}
	return b, err
}

// Delete forgets what is stored under kind and id.
func (s *Store) Delete(ctx context.Context, kind Kind, id string) error {
	return s.rdb.Del(ctx, string(kind)+id).Err()
}

// GetCode returns the grant behind a code and whether the code was used,
// in one read (MGET), so a use racing the read is seen either way.
func (s *Store) GetCode(ctx context.Context, signature string) (data []byte, used bool, err error) {
	vals, err := s.rdb.MGet(ctx, string(Code)+signature, prefixCodeUsed+signature).Result()
	if err != nil {
		return nil, false, err
	}
	v, ok := vals[0].(string)
	if !ok {
		return nil, false, storage.ErrNotFound
	}
	return []byte(v), vals[1] != nil, nil
}

// MarkCodeUsed marks a code used for ttl with SET NX, so of two racing
// exchanges exactly one wins; the loser gets ErrUsed. The code's record
// stays until it expires so that a later reuse is still recognised.
func (s *Store) MarkCodeUsed(ctx context.Context, signature string, ttl time.Duration) error {
	return s.setOnce(ctx, prefixCodeUsed+signature, ttl)
}

// setOnce sets key for ttl unless it is set: ErrUsed when it was.
func (s *Store) setOnce(ctx context.Context, key string, ttl time.Duration) error {
	ok, err := s.rdb.SetNX(ctx, key, 1, ttl).Result()
	if err != nil {
		return err
	}
	if !ok {
		return ErrUsed
	}
	return nil
}

// Grant is an access token's session as PutAccessToken stores it.
type Grant struct {
	RequestID string // the grant (family) the token belongs to
	UserID    string // empty for a client's own token
	Data      []byte
}

// PutAccessToken stores an access token's session for ttl, indexed by
// grant and by user; the indexes live for indexTTL, the longest any access
// token lives. A ttl of zero or less stores nothing.
func (s *Store) PutAccessToken(ctx context.Context, signature string, g Grant, ttl, indexTTL time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, string(AccessToken)+signature, g.Data, ttl)
	pipe.SAdd(ctx, prefixByGrant+g.RequestID, signature)
	pipe.Expire(ctx, prefixByGrant+g.RequestID, indexTTL)
	if g.UserID != "" {
		pipe.SAdd(ctx, prefixByUser+g.UserID, signature)
		pipe.Expire(ctx, prefixByUser+g.UserID, indexTTL)
	}
	_, err := pipe.Exec(ctx)
	return err
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
	pipe := s.rdb.Pipeline()
	for _, sig := range sigs {
		pipe.Del(ctx, string(AccessToken)+sig)
	}
	pipe.Del(ctx, index)
	_, err = pipe.Exec(ctx)
	return err
}

// RevokeUserClientAccessTokens revokes the user's access tokens issued to
// one client.
func (s *Store) RevokeUserClientAccessTokens(ctx context.Context, userID, clientID string) error {
	sigs, err := s.rdb.SMembers(ctx, prefixByUser+userID).Result()
	if err != nil {
		return err
	}
	for _, sig := range sigs {
		b, err := s.rdb.Get(ctx, string(AccessToken)+sig).Bytes()
		if errors.Is(err, goredis.Nil) {
			s.rdb.SRem(ctx, prefixByUser+userID, sig)
			continue
		} else if err != nil {
			return err
		}
		cid, err := s.clientOf(b)
		if err != nil || cid != clientID {
			continue
		}
		if err := s.rdb.Del(ctx, string(AccessToken)+sig).Err(); err != nil {
			return err
		}
		s.rdb.SRem(ctx, prefixByUser+userID, sig)
	}
	return nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

const prefixJTI = "latch:jti:"

// ClientAssertionUnused returns ErrUsed when a client assertion with this
// jti was already used.
func (s *Store) ClientAssertionUnused(ctx context.Context, jti string) error {
	n, err := s.rdb.Exists(ctx, prefixJTI+jti).Result()
	if err != nil {
		return err
	}
	if n > 0 {
		return ErrUsed
	}
	return nil
}

// MarkClientAssertion records a client assertion's jti until exp, with SET
// NX: of two racing uses of one assertion, the second gets ErrUsed.
func (s *Store) MarkClientAssertion(ctx context.Context, jti string, exp time.Time) error {
	ttl := time.Until(exp) + time.Minute
	if ttl < time.Minute {
		ttl = time.Minute
	}
	return s.setOnce(ctx, prefixJTI+jti, ttl)
}

const prefixDPoP = "latch:dpop:"

// MarkDPoPProof records a DPoP proof by id (its key and jti) for ttl, with
// SET NX: a proof is accepted once, and of two racing uses the second gets
// ErrUsed.
func (s *Store) MarkDPoPProof(ctx context.Context, id string, ttl time.Duration) error {
	return s.setOnce(ctx, prefixDPoP+id, ttl)
}
