package accounts_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/ratelimit"
)

// right and wrong are checks of a secret that is right or wrong.
func right(context.Context) (bool, error) { return true, nil }
func wrong(context.Context) (bool, error) { return false, nil }

func TestAttempts(t *testing.T) {
	keys := accounts.Keys{Account: "pw:ada@example.com", IP: "ip:192.0.2.1"}
	t.Run("case=wrong secrets lock the account at the limit, and each further one doubles the lock", func(t *testing.T) {
		rdb := testenv.Redis(t)
		a := accounts.NewAttempts(ratelimit.New(rdb, "acct", 3, time.Minute), ratelimit.New(rdb, "ip", 100, time.Minute), nil)
		for i := range 2 {
			if err := a.Check(t.Context(), keys, wrong); !errors.Is(err, accounts.ErrWrong) {
				t.Fatalf("try %d: %v, want ErrWrong", i+1, err)
			}
		}
		first, ok := accounts.Locked(a.Check(t.Context(), keys, wrong))
		if !ok || first != ratelimit.DefaultLock {
			t.Fatalf("third wrong try: lock %v %v, want %v", first, ok, ratelimit.DefaultLock)
		}
		called := false
		if wait, ok := accounts.Locked(a.Check(t.Context(), keys, func(context.Context) (bool, error) { called = true; return true, nil })); !ok || wait <= 0 || called {
			t.Fatalf("while locked: wait %v locked %v, check called %v", wait, ok, called)
		}
		// Fail counts like a wrong secret and doubles the lock.
		if wait, err := a.Fail(t.Context(), keys); err != nil || wait != 2*first {
			t.Errorf("a further failure: lock %v err %v, want %v", wait, err, 2*first)
		}
	})
	t.Run("case=the address limit locks every account tried from it", func(t *testing.T) {
		rdb := testenv.Redis(t)
		a := accounts.NewAttempts(ratelimit.New(rdb, "acct", 100, time.Minute), ratelimit.New(rdb, "ip", 2, time.Minute), nil)
		a.Check(t.Context(), accounts.Keys{Account: "pw:a@example.com", IP: keys.IP}, wrong)
		a.Check(t.Context(), accounts.Keys{Account: "pw:b@example.com", IP: keys.IP}, wrong)
		if _, ok := accounts.Locked(a.Check(t.Context(), accounts.Keys{Account: "pw:c@example.com", IP: keys.IP}, right)); !ok {
			t.Error("a third account from the same address was checked")
		}
		if err := a.Check(t.Context(), accounts.Keys{Account: "pw:c@example.com", IP: "ip:192.0.2.2"}, right); err != nil {
			t.Errorf("another address: %v", err)
		}
	})
	t.Run("case=a right secret clears the account's count", func(t *testing.T) {
		rdb := testenv.Redis(t)
		a := accounts.NewAttempts(ratelimit.New(rdb, "acct", 3, time.Minute), nil, nil)
		for range 2 {
			a.Check(t.Context(), keys, wrong)
		}
		if err := a.Check(t.Context(), keys, right); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := a.Check(t.Context(), keys, wrong); !errors.Is(err, accounts.ErrWrong) {
				t.Fatalf("try %d after the success: %v, want ErrWrong", i+1, err)
			}
		}
	})
	t.Run("case=parallel attempts in flight cannot race past the limit", func(t *testing.T) {
		rdb := testenv.Redis(t)
		a := accounts.NewAttempts(ratelimit.New(rdb, "acct", 3, time.Minute), nil, nil)
		var checked atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.Check(t.Context(), keys, func(context.Context) (bool, error) {
					checked.Add(1)
					time.Sleep(20 * time.Millisecond)
					return false, nil
				})
			}()
		}
		wg.Wait()
		if n := checked.Load(); n > 3 {
			t.Errorf("%d secrets checked, the limit is 3", n)
		}
	})
	t.Run("case=an error of the check is returned and not counted", func(t *testing.T) {
		rdb := testenv.Redis(t)
		a := accounts.NewAttempts(ratelimit.New(rdb, "acct", 1, time.Minute), nil, nil)
		boom := errors.New("boom")
		if err := a.Check(t.Context(), keys, func(context.Context) (bool, error) { return false, boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if err := a.Check(t.Context(), keys, right); err != nil {
			t.Errorf("after an error: %v, want admitted", err)
		}
	})
}
