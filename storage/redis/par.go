package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/storage"
)

const prefixPAR = "latch:par:"

// A pushed request is stored as its client's ID, a NUL byte (which no
// client ID holds) and its parameters as JSON, so that taking it can check
// the client first.

// SavePushedRequest keeps a pushed authorization request's parameters
// (RFC 9126) under its request_uri for ttl.
func (s *Store) SavePushedRequest(ctx context.Context, requestURI, clientID string, form url.Values, ttl time.Duration) error {
	b, err := json.Marshal(form)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, prefixPAR+requestURI, clientID+"\x00"+string(b), ttl).Err()
}

// takePushed removes and returns the parameters of KEYS[1] when it was
// pushed by the client ARGV[1]; for another client it is left alone
// (answering 0), so that a wrong client_id cannot use up someone else's
// request_uri.
var takePushed = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
local i = string.find(v, '\0', 1, true)
if not i or string.sub(v, 1, i - 1) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return string.sub(v, i + 1)
`)

// TakePushedRequest returns the parameters of a request clientID pushed and
// removes it, in one step: a request_uri is used once, by its client.
// storage.ErrNotFound when there is none, or another client pushed it.
func (s *Store) TakePushedRequest(ctx context.Context, requestURI, clientID string) (url.Values, error) {
	v, err := takePushed.Run(ctx, s.rdb, []string{prefixPAR + requestURI}, clientID).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, storage.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	b, ok := v.(string)
	if !ok {
		return nil, storage.ErrNotFound // another client's
	}
	var form url.Values
	if err := json.Unmarshal([]byte(b), &form); err != nil {
		return nil, fmt.Errorf("redis: decode pushed request: %w", err)
	}
	return form, nil
}

// DeletePushedRequest forgets a pushed request.
func (s *Store) DeletePushedRequest(ctx context.Context, requestURI string) error {
	return s.rdb.Del(ctx, prefixPAR+requestURI).Err()
}
