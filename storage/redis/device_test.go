package redis_test

import (
	"errors"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

// TestDeviceAuthorizations runs against real Redis and against the
// in-process Redis of --dev, which runs the same scripts: a user code is
// held by one authorization, polls within the interval slow the client
// down by 5 seconds each, a decision is made once, and an approved grant
// is taken by one poll of its own client.
func TestDeviceAuthorizations(t *testing.T) {
	for name, s := range bothRedis(t) {
		t.Run("case="+name, func(t *testing.T) {
			ctx := t.Context()
			now := time.Now()
			d := redisstore.NewDevice{ID: "dev-" + name, UserCode: "BCDFGHJK" + name, ClientID: "tv", Interval: 5 * time.Second,
				Expires: now.Add(time.Minute), Request: []byte("req"), Keep: 2 * time.Minute}
			if err := s.CreateDevice(ctx, d); err != nil {
				t.Fatal(err)
			}
			other := d
			other.ID = "other-" + name
			if err := s.CreateDevice(ctx, other); !errors.Is(err, redisstore.ErrUserCodeTaken) {
				t.Fatalf("a user code in use: %v", err)
			}
			got, err := s.DeviceByUserCode(ctx, d.UserCode)
			if err != nil || got.ID != d.ID || got.Status != redisstore.DevicePending || string(got.Request) != "req" || got.Expires.UnixMilli() != d.Expires.UnixMilli() {
				t.Fatalf("by user code: %+v %v", got, err)
			}
			mustPoll(t, s, d.ID, "other", now, redisstore.PollWrongClient, 0)
			mustPoll(t, s, d.ID, "tv", now, redisstore.PollPending, 0)
			mustPoll(t, s, d.ID, "tv", now.Add(time.Second), redisstore.PollSlowDown, 10*time.Second)
			mustPoll(t, s, d.ID, "tv", now.Add(6*time.Second), redisstore.PollSlowDown, 15*time.Second)
			if err := s.DecideDevice(ctx, d.ID, redisstore.DeviceApproved, []byte("grant"), now); err != nil {
				t.Fatal(err)
			}
			if err := s.DecideDevice(ctx, d.ID, redisstore.DeviceDenied, nil, now); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("a second decision: %v", err)
			}
			res := mustPoll(t, s, d.ID, "tv", now.Add(time.Minute-time.Millisecond), redisstore.PollApproved, 0)
			if string(res.Grant) != "grant" {
				t.Fatalf("grant %q", res.Grant)
			}
			mustPoll(t, s, d.ID, "tv", now.Add(time.Minute), redisstore.PollExpired, 0)
			mustPoll(t, s, "unknown", "tv", now, redisstore.PollUnknown, 0)
		})
	}
}

func mustPoll(t *testing.T, s *redisstore.Store, id, client string, at time.Time, want string, interval time.Duration) redisstore.PollResult {
	t.Helper()
	res, err := s.PollDevice(t.Context(), id, client, at)
	if err != nil || res.Outcome != want || res.Interval != interval {
		t.Fatalf("poll by %s at +%s: %+v %v, want %s", client, time.Until(at).Round(time.Second), res, err, want)
	}
	return res
}
