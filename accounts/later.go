package accounts

import (
	"context"
	"sync"
	"time"
)

// Work a page must not wait for. /forgot and /register answer the same
// whether or not an address has an account; they must also take the same
// time, so the lookups and writes that differ run after the answer.

const (
	// laterLimit bounds the deferred work in flight. The pages that defer
	// are rate limited per address and per network already; beyond the
	// bound work is dropped and logged rather than queued without end.
	laterLimit = 64
	// laterTimeout bounds one piece of deferred work.
	laterTimeout = 30 * time.Second
)

// later runs deferred work in the background.
type later struct {
	sem chan struct{}
	wg  sync.WaitGroup
}

func newLater() *later { return &later{sem: make(chan struct{}, laterLimit)} }

// Later runs fn after the caller's answer has gone, with ctx's values (the
// request ID for logs) but not its cancellation. An error is logged as
// what failed; it reaches no one else.
func (s *Service) Later(ctx context.Context, what string, fn func(context.Context) error) {
	select {
	case s.later.sem <- struct{}{}:
	default:
		s.c.Log.WarnContext(ctx, "accounts: too much deferred work; dropped", "what", what)
		return
	}
	s.later.wg.Add(1)
	go func() {
		defer s.later.wg.Done()
		defer func() { <-s.later.sem }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), laterTimeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			s.c.Log.ErrorContext(ctx, "accounts: deferred work failed", "what", what, "err", err)
		}
	}()
}

// Wait returns once the deferred work in flight has finished, or when ctx
// ends. The server calls it at shutdown, before closing the stores.
func (s *Service) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.later.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
