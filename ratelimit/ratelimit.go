package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of the lockout: the first lock lasts DefaultLock, each further
// failure doubles it, up to DefaultMaxLock.
const (
	DefaultLock    = time.Minute
	DefaultMaxLock = time.Hour
)

// Limiter locks a key out after limit failures within window.
type Limiter struct {
	rdb     redis.UniversalClient
	name    string
	limit   int
	window  time.Duration
	lock    time.Duration
	maxLock time.Duration
}

// New returns a Limiter named name (it prefixes the Redis keys, so limiters
// with different names never share a count). After limit failures within
// window a key is locked for DefaultLock; each further failure doubles the
// lock, up to DefaultMaxLock.
func New(rdb redis.UniversalClient, name string, limit int, window time.Duration) *Limiter {
	if limit < 1 {
		limit = 1
	}
	if window < time.Millisecond {
		window = time.Millisecond
	}
	return &Limiter{rdb: rdb, name: name, limit: limit, window: window, lock: DefaultLock, maxLock: DefaultMaxLock}
}

// WithLockout returns a copy of l whose first lock lasts first and whose
// locks never exceed limit.
func (l *Limiter) WithLockout(first, limit time.Duration) *Limiter {
	c := *l
	c.lock = max(first, time.Millisecond)
	c.maxLock = max(limit, c.lock)
	return &c
}

// Check returns how long key is still locked out, or 0 when it may try.
func (l *Limiter) Check(ctx context.Context, key string) (retryAfter time.Duration, err error) {
	_, lockKey := l.keys(key)
	ttl, err := l.rdb.PTTL(ctx, lockKey).Result()
	if err != nil {
		return 0, fmt.Errorf("ratelimit %s: check: %w", l.name, err)
	}
	if ttl <= 0 { // -2: no lock; -1 cannot happen, the lock always has a TTL
		return 0, nil
	}
	return ttl, nil
}

// fail counts one failure. From the limit-th failure within the window on,
// it sets the lock, doubling with each further failure up to the cap, and
// keeps the count alive through the lock and one more window, so a key that
// goes on failing after its lock ends is locked for longer.
var fail = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local first = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], window)
end
if n < limit then
  return 0
end
local lock = cap
local doublings = n - limit
if doublings < 40 then
  lock = math.min(cap, first * (2 ^ doublings))
end
lock = math.floor(lock)
redis.call('SET', KEYS[2], '1', 'PX', lock)
local keep = lock + window
if redis.call('PTTL', KEYS[1]) < keep then
  redis.call('PEXPIRE', KEYS[1], keep)
end
return lock
`)

// Fail counts a failure for key. It returns how long key is now locked out,
// 0 while it is under the limit.
func (l *Limiter) Fail(ctx context.Context, key string) (retryAfter time.Duration, err error) {
	countKey, lockKey := l.keys(key)
	ms, err := fail.Run(ctx, l.rdb, []string{countKey, lockKey},
		l.limit, l.window.Milliseconds(), l.lock.Milliseconds(), l.maxLock.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("ratelimit %s: count failure: %w", l.name, err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Reset forgets key's failures and lifts its lock, after a success.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	countKey, lockKey := l.keys(key)
	if err := l.rdb.Del(ctx, countKey, lockKey).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("ratelimit %s: reset: %w", l.name, err)
	}
	return nil
}

// keys returns the Redis keys of key: only its SHA-256 appears, and the
// braces keep both keys in one Redis Cluster slot, as the script needs.
func (l *Limiter) keys(key string) (count, lock string) {
	sum := sha256.Sum256([]byte(key))
	base := "latch:ratelimit:" + l.name + ":{" + hex.EncodeToString(sum[:]) + "}"
	return base + ":count", base + ":lock"
}
