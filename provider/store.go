package provider

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

// Durable is what provider needs of the durable store.
type Durable interface {
	GetClient(ctx context.Context, id string) (storage.Client, error)
	GetUser(ctx context.Context, id string) (storage.User, error)
	GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error)
	DeleteConsent(ctx context.Context, userID, clientID string) ([]string, error)
	GetRefreshToken(ctx context.Context, signature string) (storage.RefreshToken, error)
	RevokeRefreshFamily(ctx context.Context, requestID string, fx storage.Effects) error
	RevokeUserRefreshTokens(ctx context.Context, userID string, fx storage.Effects) ([]string, error)
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
	oauth2.RefreshTokenStorage
	RevokeRefreshToken(ctx context.Context, requestID string) error
}

// fositeStore is the storage fosite sees: refresh tokens and clients in the
// durable store, codes and access-token sessions in Redis. Transactions
// reach the durable store only; Redis writes are not part of them.
type fositeStore struct {
	durable Durable
	*redisstore.Store
	clients         *clientCache
	refreshAbsolute time.Duration
	parTTL          time.Duration
	// onReuse handles the reuse of a rotated refresh token (Handler.handleReuse).
	onReuse func(ctx context.Context, signature string) error
}

var (
	_ fosite.ClientManager               = (*fositeStore)(nil)
	_ oauth2.CoreStorage                 = (*fositeStore)(nil)
	_ oauth2.TokenRevocationStorage      = (*fositeStore)(nil)
	_ pkce.PKCERequestStorage            = (*fositeStore)(nil)
	_ openid.OpenIDConnectRequestStorage = (*fositeStore)(nil)
	_ fositestorage.Transactional        = (*fositeStore)(nil)
)

func (s *fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	return s.clients.get(ctx, id)
}

// ClientAssertionJWTValid and SetClientAssertionJWT keep private_key_jwt
// assertions single use: each jti is remembered in Redis until the
// assertion expires.
func (s *fositeStore) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	return s.Store.ClientAssertionUnused(ctx, jti)
}

func (s *fositeStore) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	return s.Store.MarkClientAssertion(ctx, jti, exp)
}

func (s *fositeStore) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, req fosite.Requester) error {
	// The idle lifetime came from fosite; the absolute lifetime counts from
	// the first grant of the family.
	if sess, ok := req.GetSession().(*storage.Session); ok && !sess.GrantedAt.IsZero() && s.refreshAbsolute > 0 {
		limit := sess.GrantedAt.Add(s.refreshAbsolute)
		if exp := sess.GetExpiresAt(fosite.RefreshToken); exp.IsZero() || exp.After(limit) {
			sess.SetExpiresAt(fosite.RefreshToken, limit)
		}
	}
	return s.durable.CreateRefreshTokenSession(ctx, signature, accessSignature, req)
}

// GetRefreshTokenSession reads a refresh token. At the token endpoint, a
// token that is no longer active, presented by the client it was issued
// to, goes to onReuse before fosite answers: fosite has authenticated the
// client by then, and the store has applied the grace period.
func (s *fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, err := s.durable.GetRefreshTokenSession(ctx, signature, session)
	if errors.Is(err, fosite.ErrInactiveToken) && req != nil && s.onReuse != nil {
		ar, ok := ctx.Value(fosite.AccessRequestContextKey).(fosite.AccessRequester)
		if ok && ar.GetGrantTypes().ExactOne(clients.GrantRefreshToken) && ar.GetClient() != nil &&
			ar.GetClient().GetID() == req.GetClient().GetID() {
			if rerr := s.onReuse(ctx, signature); rerr != nil {
				return nil, fosite.ErrTemporarilyUnavailable.WithWrap(rerr)
			}
		}
	}
	return req, err
}

// DeletePKCERequestSession keeps a code's PKCE challenge: fosite deletes it
// at the first exchange attempt, before it compares the verifier, and an
// attempt after a failed one would then find no challenge and pass as a
// flow that never used PKCE (for a confidential client). The challenge
// expires with the code's record instead, and a redeemed code is refused
// anyway.
func (s *fositeStore) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return nil
}

func (s *fositeStore) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return s.durable.DeleteRefreshTokenSession(ctx, signature)
}

func (s *fositeStore) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	return s.durable.RotateRefreshToken(ctx, requestID, signature)
}

func (s *fositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.durable.RevokeRefreshToken(ctx, requestID)
}

func (s *fositeStore) BeginTX(ctx context.Context) (context.Context, error) {
	if t, ok := s.durable.(fositestorage.Transactional); ok {
		return t.BeginTX(ctx)
	}
	return ctx, nil
}

func (s *fositeStore) Commit(ctx context.Context) error {
	if t, ok := s.durable.(fositestorage.Transactional); ok {
		return t.Commit(ctx)
	}
	return nil
}

func (s *fositeStore) Rollback(ctx context.Context) error {
	if t, ok := s.durable.(fositestorage.Transactional); ok {
		return t.Rollback(ctx)
	}
	return nil
}

// isNotFound reports a missing record from either store.
func isNotFound(err error) bool {
	return errors.Is(err, storage.ErrNotFound) || errors.Is(err, fosite.ErrNotFound)
}
