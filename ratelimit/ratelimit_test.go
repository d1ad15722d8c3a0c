package ratelimit

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-idp/latch/internal/testenv"
)

func TestLockout(t *testing.T) {
	rdb := testenv.Redis(t)
	l := New(rdb, "login-account", 3, time.Minute).WithLockout(10*time.Second, 60*time.Second)
	const key = "alice@example.com"
	for i, want := range []time.Duration{
		0, 0, // under the limit
		10 * time.Second, // the limit-th failure locks
		20 * time.Second, // each further one doubles
		40 * time.Second,
		60 * time.Second, // capped
		60 * time.Second,
	} {
		t.Run(fmt.Sprintf("case=failure %d", i+1), func(t *testing.T) {
			got, err := l.Fail(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("Fail = %v, want %v", got, want)
			}
			left, err := l.Check(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			if want == 0 && left != 0 || want > 0 && (left <= want-time.Second || left > want) {
				t.Fatalf("Check = %v, want about %v", left, want)
			}
		})
	}
	t.Run("case=other keys are not locked", func(t *testing.T) {
		if left, err := l.Check(t.Context(), "bob@example.com"); err != nil || left != 0 {
			t.Fatalf("Check(other key) = %v, %v; want 0", left, err)
		}
	})
	t.Run("case=other limiters are not locked", func(t *testing.T) {
		other := New(rdb, "login-ip", 3, time.Minute)
		if left, err := other.Check(t.Context(), key); err != nil || left != 0 {
			t.Fatalf("Check(other limiter) = %v, %v; want 0", left, err)
		}
	})
	t.Run("case=reset lifts the lock and the count", func(t *testing.T) {
		if err := l.Reset(t.Context(), key); err != nil {
			t.Fatal(err)
		}
		if left, err := l.Check(t.Context(), key); err != nil || left != 0 {
			t.Fatalf("Check after Reset = %v, %v; want 0", left, err)
		}
		if got, err := l.Fail(t.Context(), key); err != nil || got != 0 {
			t.Fatalf("first Fail after Reset = %v, %v; want 0 (count restarted)", got, err)
		}
	})
	t.Run("case=reset of an unknown key is fine", func(t *testing.T) {
		if err := l.Reset(t.Context(), "nobody@example.com"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDefaults(t *testing.T) {
	l := New(testenv.Redis(t), "defaults", 1, time.Minute)
	if got, err := l.Fail(t.Context(), "k"); err != nil || got != DefaultLock {
		t.Fatalf("Fail = %v, %v; want the default first lock %v", got, err, DefaultLock)
	}
	for range 20 {
		l.Fail(t.Context(), "k")
	}
	if got, err := l.Fail(t.Context(), "k"); err != nil || got != DefaultMaxLock {
		t.Fatalf("Fail = %v, %v; want the default cap %v", got, err, DefaultMaxLock)
	}
}

func TestTimeouts(t *testing.T) {
	rdb := testenv.Redis(t)
	t.Run("case=failures outside the window are forgotten", func(t *testing.T) {
		l := New(rdb, "window", 2, 150*time.Millisecond)
		if got, _ := l.Fail(t.Context(), "k"); got != 0 {
			t.Fatalf("first Fail = %v, want 0", got)
		}
		time.Sleep(250 * time.Millisecond)
		if got, err := l.Fail(t.Context(), "k"); err != nil || got != 0 {
			t.Fatalf("Fail after the window = %v, %v; want 0", got, err)
		}
	})
	t.Run("case=a lock ends, and the next failure locks for longer", func(t *testing.T) {
		l := New(rdb, "expiry", 1, time.Minute).WithLockout(100*time.Millisecond, time.Hour)
		if got, _ := l.Fail(t.Context(), "k"); got != 100*time.Millisecond {
			t.Fatalf("Fail = %v, want 100ms", got)
		}
		time.Sleep(200 * time.Millisecond)
		if left, err := l.Check(t.Context(), "k"); err != nil || left != 0 {
			t.Fatalf("Check after the lock = %v, %v; want 0", left, err)
		}
		if got, _ := l.Fail(t.Context(), "k"); got != 200*time.Millisecond {
			t.Fatalf("Fail after the lock = %v, want 200ms: the count must outlive the lock", got)
		}
	})
}

func TestParallelFailuresAllCount(t *testing.T) {
	l := New(testenv.Redis(t), "parallel", 10, time.Minute)
	var locked atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			got, err := l.Fail(t.Context(), "k")
			if err != nil {
				t.Error(err)
			}
			if got > 0 {
				locked.Add(1)
			}
		})
	}
	wg.Wait()
	if n := locked.Load(); n != 11 {
		t.Fatalf("%d of 20 parallel failures reported a lock, want 11 (failures 10..20)", n)
	}
}

func TestKeysAreHashedAndExpire(t *testing.T) {
	rdb := testenv.Redis(t)
	l := New(rdb, "login-account", 2, time.Minute)
	for _, key := range []string{"alice@example.com", "203.0.113.7"} {
		for range 3 {
			if _, err := l.Fail(t.Context(), key); err != nil {
				t.Fatal(err)
			}
		}
	}
	keys, err := rdb.Keys(t.Context(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 {
		t.Fatalf("Redis holds %d keys, want a count and a lock for each of 2 keys", len(keys))
	}
	for _, k := range keys {
		if strings.Contains(k, "alice") || strings.Contains(k, "example.com") || strings.Contains(k, "203.0.113") {
			t.Fatalf("Redis key %q holds the key in clear", k)
		}
		ttl, err := rdb.PTTL(t.Context(), k).Result()
		if err != nil || ttl <= 0 {
			t.Fatalf("Redis key %q has TTL %v (%v), want one", k, ttl, err)
		}
	}
}

func TestBegin(t *testing.T) {
	rdb := testenv.Redis(t)
	t.Run("case=parallel attempts are admitted only up to the failures left", func(t *testing.T) {
		l := New(rdb, "begin-parallel", 3, time.Minute)
		if _, err := l.Fail(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
		var admitted, busy atomic.Int32
		var mu sync.Mutex
		var releases []func()
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				wait, release, err := l.Begin(t.Context(), "k")
				if err != nil {
					t.Error(err)
					return
				}
				if wait == 0 {
					admitted.Add(1)
				} else {
					busy.Add(1)
				}
				mu.Lock()
				releases = append(releases, release)
				mu.Unlock()
			})
		}
		wg.Wait()
		if admitted.Load() != 2 || busy.Load() != 18 {
			t.Fatalf("%d admitted and %d told to wait, want 2 (3 allowed, 1 failed already) and 18", admitted.Load(), busy.Load())
		}
		for _, release := range releases {
			release()
		}
		// Released, the places are free again.
		if wait, release, err := l.Begin(t.Context(), "k"); err != nil || wait != 0 {
			t.Fatalf("Begin after release = %v, %v; want admitted", wait, err)
		} else {
			release()
		}
	})
	t.Run("case=a locked key is told the lock's time", func(t *testing.T) {
		l := New(rdb, "begin-locked", 1, time.Minute).WithLockout(10*time.Second, time.Minute)
		if _, err := l.Fail(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
		wait, release, err := l.Begin(t.Context(), "k")
		if err != nil || wait <= 9*time.Second || wait > 10*time.Second {
			t.Fatalf("Begin = %v, %v; want about 10s", wait, err)
		}
		release()
	})
	t.Run("case=after a lock ends, one attempt at a time", func(t *testing.T) {
		l := New(rdb, "begin-after-lock", 1, time.Minute).WithLockout(50*time.Millisecond, time.Hour)
		if _, err := l.Fail(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		wait, release, err := l.Begin(t.Context(), "k")
		if err != nil || wait != 0 {
			t.Fatalf("first Begin after the lock = %v, %v; want admitted", wait, err)
		}
		if wait, _, err := l.Begin(t.Context(), "k"); err != nil || wait == 0 {
			t.Fatalf("second Begin while the first runs = %v, %v; want a wait", wait, err)
		}
		if got, _ := l.Fail(t.Context(), "k"); got != 100*time.Millisecond {
			t.Fatalf("Fail = %v, want the doubled lock 100ms", got)
		}
		release()
	})
	t.Run("case=its keys are hashed and expire", func(t *testing.T) {
		l := New(rdb, "begin-keys", 3, time.Minute)
		_, release, err := l.Begin(t.Context(), "carol@example.com")
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		keys, err := rdb.Keys(t.Context(), "latch:ratelimit:begin-keys:*").Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys %v, %v; want the one set of attempts under way", keys, err)
		}
		if strings.Contains(keys[0], "carol") {
			t.Fatalf("Redis key %q holds the key in clear", keys[0])
		}
		if ttl, err := rdb.PTTL(t.Context(), keys[0]).Result(); err != nil || ttl <= 0 {
			t.Fatalf("Redis key %q has TTL %v (%v), want one", keys[0], ttl, err)
		}
	})
}
