package redis_test

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/storage"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

// TestPushedRequestsAreTakenByTheirClientOnly runs against real Redis and
// against the in-process Redis of --dev, which runs the same script.
func TestPushedRequestsAreTakenByTheirClientOnly(t *testing.T) {
	for name, s := range bothRedis(t) {
		t.Run("case="+name, func(t *testing.T) {
			ctx := t.Context()
			form := url.Values{"scope": {"openid"}, "state": {"s\x00tate"}}
			if err := s.SavePushedRequest(ctx, "urn:1", "app", form, time.Minute); err != nil {
				t.Fatal(err)
			}
			if _, err := s.TakePushedRequest(ctx, "urn:1", "other"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("another client's take: %v", err)
			}
			got, err := s.TakePushedRequest(ctx, "urn:1", "app")
			if err != nil || got.Get("state") != "s\x00tate" {
				t.Fatalf("its client's take: %v %v", got, err)
			}
			if _, err := s.TakePushedRequest(ctx, "urn:1", "app"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("a second take: %v", err)
			}
		})
	}
}

// bothRedis is a store on real Redis and one on the in-process Redis of
// --dev, for the scripts both must run alike.
func bothRedis(t *testing.T) map[string]*redisstore.Store {
	mini := miniredis.RunT(t)
	return map[string]*redisstore.Store{
		"redis":     newStore(t),
		"miniredis": redisstore.New(goredis.NewClient(&goredis.Options{Addr: mini.Addr()}), clientOf),
	}
}
