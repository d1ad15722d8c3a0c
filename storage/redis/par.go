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

type pushedRequest struct {
	ClientID string     `json:"client_id"`
	Form     url.Values `json:"form"`
}

// SavePushedRequest keeps a pushed authorization request's parameters
// (RFC 9126) under its request_uri for ttl.
func (s *Store) SavePushedRequest(ctx context.Context, requestURI, clientID string, form url.Values, ttl time.Duration) error {
	b, err := json.Marshal(pushedRequest{ClientID: clientID, Form: form})
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, prefixPAR+requestURI, b, ttl).Err()
}

// TakePushedRequest returns a pushed request's client and parameters and
// removes it, in one step: a request_uri is used once.
func (s *Store) TakePushedRequest(ctx context.Context, requestURI string) (clientID string, form url.Values, err error) {
	b, err := s.rdb.GetDel(ctx, prefixPAR+requestURI).Bytes()
	if errors.Is(err, goredis.Nil) {
		return "", nil, storage.ErrNotFound
	} else if err != nil {
		return "", nil, err
	}
	var p pushedRequest
	if err := json.Unmarshal(b, &p); err != nil {
		return "", nil, fmt.Errorf("redis: decode pushed request: %w", err)
	}
	return p.ClientID, p.Form, nil
}

// DeletePushedRequest forgets a pushed request.
func (s *Store) DeletePushedRequest(ctx context.Context, requestURI string) error {
	return s.rdb.Del(ctx, prefixPAR+requestURI).Err()
}
