package server

import (
	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/provider"
	"github.com/latch-idp/latch/session"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

// NewRevocation builds the one revocation service, for serve and the CLI
// alike: refresh tokens in store and, when rdb is set, access-token
// sessions and browser sessions in Redis. Without rdb (the CLI without
// LATCH_REDIS_URL) only refresh tokens end; access tokens expire on their
// own and sessions are refused at their next request. Sessions end with
// sessionOpts (serve's tell the applications: back-channel logout).
func NewRevocation(store accounts.RevocationStore, rdb redis.UniversalClient, sessionOpts session.Options) *accounts.Revocation {
	if rdb == nil {
		return accounts.NewRevocation(store, nil, nil)
	}
	tokens := redisstore.New(rdb, provider.RequestClientID)
	return accounts.NewRevocation(store, tokens, session.NewStore(rdb, sessionOpts))
}
