package server

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/session"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

// NewRevocation builds the one revocation service, for serve and the CLI
// alike: refresh tokens in store and, when rdb is set, access-token
// sessions and browser sessions in Redis. Without rdb (the CLI without
// LATCH_REDIS_URL) only refresh tokens end; access tokens expire on their
// own and sessions are refused at their next request.
func NewRevocation(store accounts.RevocationStore, rdb redis.UniversalClient) *accounts.Revocation {
	if rdb == nil {
		return accounts.NewRevocation(store, nil, nil)
	}
	// Revoking reads neither lifetime nor any client: it deletes what the
	// per-grant and per-user indexes list.
	tokens := redisstore.New(rdb, nil, time.Minute, time.Hour)
	return accounts.NewRevocation(store, tokens, session.NewStore(rdb, session.Options{}))
}
