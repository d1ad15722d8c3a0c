package provider

import (
	"context"

	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
)

// RevokerStore is what a Revoker needs of the durable store.
type RevokerStore interface {
	RevokeUserRefreshTokens(ctx context.Context, userID string, fx storage.Effects) ([]string, error)
	DeleteConsent(ctx context.Context, userID, clientID string) ([]string, error)
}

// Revoker ends what a user holds: refresh tokens in the durable store,
// access-token sessions and browser sessions in Redis. The server and the
// CLI use the same one.
type Revoker struct {
	store    RevokerStore
	redis    accessTokens
	sessions *session.Store
}

// accessTokens revokes access-token sessions (package storage/redis).
type accessTokens interface {
	RevokeAccessTokens(ctx context.Context, requestIDs []string) error
	RevokeUserAccessTokens(ctx context.Context, userID string) error
	RevokeUserClientAccessTokens(ctx context.Context, userID, clientID string) error
}

// NewRevoker returns a Revoker over the stores.
func NewRevoker(store RevokerStore, rs accessTokens, sessions *session.Store) *Revoker {
	return &Revoker{store: store, redis: rs, sessions: sessions}
}

// RevokeUser revokes every refresh token, access token and browser session
// of the user (password reset, disabling, reuse with the user policy).
func (v *Revoker) RevokeUser(ctx context.Context, userID string) error {
	families, err := v.store.RevokeUserRefreshTokens(ctx, userID, storage.Effects{})
	if err != nil {
		return err
	}
	return v.revokeVolatile(ctx, userID, families)
}

// revokeVolatile ends what Redis holds for a user whose refresh tokens
// (of families) were revoked: access-token sessions and browser sessions.
func (v *Revoker) revokeVolatile(ctx context.Context, userID string, families []string) error {
	if err := v.redis.RevokeAccessTokens(ctx, families); err != nil {
		return err
	}
	if err := v.redis.RevokeUserAccessTokens(ctx, userID); err != nil {
		return err
	}
	return v.sessions.DeleteUser(ctx, userID)
}

// RevokeClientGrant deletes the user's consent for the client and revokes
// the tokens of that grant.
func (v *Revoker) RevokeClientGrant(ctx context.Context, userID, clientID string) error {
	families, err := v.store.DeleteConsent(ctx, userID, clientID)
	if err != nil && !isNotFound(err) {
		return err
	}
	if err := v.redis.RevokeAccessTokens(ctx, families); err != nil {
		return err
	}
	return v.redis.RevokeUserClientAccessTokens(ctx, userID, clientID)
}
