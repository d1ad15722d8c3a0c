package accounts

import (
	"context"
	"errors"

	"github.com/latch-idp/latch/storage"
)

// RevocationStore is what a Revocation needs of the durable store.
type RevocationStore interface {
	RevokeUserRefreshTokens(ctx context.Context, userID string, fx storage.Effects) ([]string, error)
	DeleteConsent(ctx context.Context, userID, clientID string) ([]string, error)
}

// AccessTokens ends access-token sessions in Redis (storage/redis).
type AccessTokens interface {
	// RevokeAccessTokens revokes every access token of the grants.
	RevokeAccessTokens(ctx context.Context, requestIDs []string) error
	RevokeUserAccessTokens(ctx context.Context, userID string) error
	RevokeUserClientAccessTokens(ctx context.Context, userID, clientID string) error
}

// Sessions ends browser sessions (session.Store).
type Sessions interface {
	DeleteUser(ctx context.Context, userID string) error
}

// Revocation is the one thing that ends what a user holds: refresh tokens
// in the durable store, access-token sessions and browser sessions in
// Redis. The server builds one and gives it to provider, the pages and the
// service; the CLI builds the same one.
type Revocation struct {
	store    RevocationStore
	tokens   AccessTokens // nil: only refresh tokens end, access tokens expire
	sessions Sessions     // nil: sessions are refused at their next request
}

// NewRevocation returns the revocation over the stores. tokens and
// sessions may be nil where Redis is out of reach (the CLI without
// LATCH_REDIS_URL): then refresh tokens are revoked and the rest lapses.
func NewRevocation(store RevocationStore, tokens AccessTokens, sessions Sessions) *Revocation {
	return &Revocation{store: store, tokens: tokens, sessions: sessions}
}

// RevokeUser revokes every refresh token, access token and browser session
// of the user (a new password, disabling).
func (v *Revocation) RevokeUser(ctx context.Context, userID string) error {
	return v.RevokeUserWith(ctx, userID, storage.Effects{})
}

// RevokeUserWith is RevokeUser with fx written in the same write as the
// refresh tokens' revocation (the audit event and alert mail of a refresh
// token reuse under LATCH_REFRESH_REUSE_REVOKES=user).
func (v *Revocation) RevokeUserWith(ctx context.Context, userID string, fx storage.Effects) error {
	families, err := v.store.RevokeUserRefreshTokens(ctx, userID, fx)
	if err != nil {
		return err
	}
	if v.tokens != nil {
		if err := v.tokens.RevokeAccessTokens(ctx, families); err != nil {
			return err
		}
		if err := v.tokens.RevokeUserAccessTokens(ctx, userID); err != nil {
			return err
		}
	}
	if v.sessions != nil {
		return v.sessions.DeleteUser(ctx, userID)
	}
	return nil
}

// RevokeClientGrant deletes the user's consent for the client and revokes
// the tokens of that grant. A grant already gone is no error.
func (v *Revocation) RevokeClientGrant(ctx context.Context, userID, clientID string) error {
	families, err := v.store.DeleteConsent(ctx, userID, clientID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if v.tokens == nil {
		return nil
	}
	if err := v.tokens.RevokeAccessTokens(ctx, families); err != nil {
		return err
	}
	return v.tokens.RevokeUserClientAccessTokens(ctx, userID, clientID)
}
