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

// ClientAssertionJWTValid and SetClientAssertionJWT back private_key_jwt's
// replay protection; latch does not offer private_key_jwt, so no assertion
// is ever recorded.
func (s *fositeStore) ClientAssertionJWTValid(ctx context.Context, jti string) error { return nil }
func (s *fositeStore) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	return nil
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

func (s *fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.durable.GetRefreshTokenSession(ctx, signature, session)
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
