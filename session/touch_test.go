package session

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latch-idp/latch/internal/testenv"
)

// TestTouchDoesNotBringBackADeletedSession pins the race of Get against a
// sign-out: Get read the session, then it was deleted, then Get wrote it
// back to extend its idle time. The write must not resurrect it.
func TestTouchDoesNotBringBackADeletedSession(t *testing.T) {
	s := NewStore(testenv.Redis(t), Options{Idle: time.Hour, Absolute: 24 * time.Hour})
	ctx := t.Context()
	sess, err := s.Create(ctx, httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), "user-1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	read, err := s.Lookup(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.touch(ctx, read); !errors.Is(err, ErrNoSession) {
		t.Fatalf("touch of a deleted session: %v, want ErrNoSession", err)
	}
	if _, err := s.Lookup(ctx, sess.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("the deleted session came back: %v", err)
	}
}
