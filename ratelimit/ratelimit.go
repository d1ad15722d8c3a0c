package ratelimit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/telemetry"
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
	metrics *telemetry.Metrics
	// keep: a success does not forgive earlier failures (KeepFailures).
	keep bool
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

// KeepFailures returns a copy of l whose Reset does nothing: for secrets
// anyone can get a right one of (a device's user code), so that a success
// never clears the failures of guessing others.
func (l *Limiter) KeepFailures() *Limiter {
	c := *l
	c.keep = true
	return &c
}

// WithMetrics returns a copy of l that counts each attempt it refuses or
// locks out in m, under its name.
func (l *Limiter) WithMetrics(m *telemetry.Metrics) *Limiter {
	c := *l
	c.metrics = m
	m.Limiters(c.name)
	return &c
}

// hit counts an attempt refused or locked out when wait > 0.
func (l *Limiter) hit(wait time.Duration) {
	if wait > 0 {
		l.metrics.RateLimited(l.name)
	}
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
	l.hit(ttl)
	return ttl, nil
}

// attemptTTL bounds how long an attempt Begin admitted counts as under way:
// one whose release never runs (a replica that stopped mid-request) gives
// its place back after this long.
const attemptTTL = 30 * time.Second

// busyWait is the retry time Begin answers while the attempts under way
// could use up the failures left before the lock.
const busyWait = time.Second

// begin admits an attempt unless the key is locked (it returns the lock's
// TTL) or the attempts under way already fill what is left of the limit
// (-1); a key whose lock has ended gets one attempt at a time. Attempts
// under way are members of a sorted set, scored by when they lapse.
var begin = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then
  return ttl
end
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local failed = tonumber(redis.call('GET', KEYS[1]) or '0')
local room = math.max(tonumber(ARGV[1]) - failed, 1)
if redis.call('ZCARD', KEYS[3]) >= room then
  return -1
end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 0
`)

// Begin admits one attempt at key whose outcome is not known yet (a
// password or a code about to be checked), and returns release, to call
// once the attempt has been counted by Fail or Reset. Check alone cannot
// bound attempts that run in parallel: all of them may pass it before the
// first one fails. Begin counts the attempts under way and answers a wait
// while they could use up the failures left before the lock, so that no
// more than limit attempts are checked within a window (and after a lock
// ends, one at a time). With retryAfter > 0 the attempt must not be made;
// release is then a no-op. release never fails the request: an attempt
// whose release is lost gives its place back after attemptTTL.
func (l *Limiter) Begin(ctx context.Context, key string) (retryAfter time.Duration, release func(), err error) {
	countKey, lockKey := l.keys(key)
	runningKey := l.base(key) + ":running"
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return 0, nil, err
	}
	id := hex.EncodeToString(b)
	ms, err := begin.Run(ctx, l.rdb, []string{countKey, lockKey, runningKey},
		l.limit, time.Now().UnixMilli(), id, attemptTTL.Milliseconds()).Int64()
	if err != nil {
		return 0, nil, fmt.Errorf("ratelimit %s: begin attempt: %w", l.name, err)
	}
	switch {
	case ms > 0:
		l.hit(time.Duration(ms) * time.Millisecond)
		return time.Duration(ms) * time.Millisecond, func() {}, nil
	case ms < 0:
		l.hit(busyWait)
		return busyWait, func() {}, nil
	}
	return 0, func() {
		l.rdb.ZRem(context.WithoutCancel(ctx), runningKey, id)
	}, nil
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
	l.hit(time.Duration(ms) * time.Millisecond)
	return time.Duration(ms) * time.Millisecond, nil
}

// Reset forgets key's failures and lifts its lock, after a success. The
// attempts under way stay counted until they are released.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if l.keep {
		return nil
	}
	countKey, lockKey := l.keys(key)
	if err := l.rdb.Del(ctx, countKey, lockKey).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("ratelimit %s: reset: %w", l.name, err)
	}
	return nil
}

// keys returns the Redis keys of key's count and lock.
func (l *Limiter) keys(key string) (count, lock string) {
	base := l.base(key)
	return base + ":count", base + ":lock"
}

// base prefixes every Redis key of key: only its SHA-256 appears, and the
// braces keep all of them in one Redis Cluster slot, as the scripts need.
func (l *Limiter) base(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "latch:ratelimit:" + l.name + ":{" + hex.EncodeToString(sum[:]) + "}"
}
