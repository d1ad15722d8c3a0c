package accounts_test

import (
	"context"
	"errors"
	"testing"
)

func TestLaterRunsAfterTheCallerAndOutlivesItsRequest(t *testing.T) {
	e := newEnv(t)
	release, done := make(chan struct{}), make(chan error, 1)
	req, cancelReq := context.WithCancel(t.Context())
	e.svc.Later(req, "test", func(ctx context.Context) error {
		<-release
		done <- ctx.Err()
		return nil
	})
	// Later has returned while the work waits; the request then ends.
	cancelReq()
	stopped, cancel := context.WithCancel(t.Context())
	cancel()
	if err := e.svc.Wait(stopped); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with the work unfinished = %v, want the context's error", err)
	}
	close(release)
	if err := e.svc.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the work's context ended with its request: %v", err)
	}
}
