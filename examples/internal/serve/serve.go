// Package serve runs the examples' HTTP servers: it builds the handler,
// retrying while latch is not up yet (the examples discover it at start),
// serves with sane timeouts, and stops gracefully on Ctrl-C. It holds
// nothing an example teaches; each example's own package does.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// startTimeout is how long Run waits for build to succeed.
const startTimeout = 30 * time.Second

// Run builds the handler with build and serves it on addr until SIGINT or
// SIGTERM.
func Run(name, addr string, build func(context.Context) (http.Handler, error)) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("app", name)
	h, err := retry(ctx, log, build)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr: addr, Handler: h,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
	}
	done := make(chan error, 1)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- srv.Shutdown(sctx)
	}()
	log.Info("serving", "addr", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return <-done
}

// retry calls build until it succeeds, ctx ends or startTimeout passes.
func retry(ctx context.Context, log *slog.Logger, build func(context.Context) (http.Handler, error)) (http.Handler, error) {
	deadline := time.Now().Add(startTimeout)
	for {
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		h, err := build(bctx)
		cancel()
		if err == nil {
			return h, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("gave up after %s: %w", startTimeout, err)
		}
		log.Info("waiting for latch", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
