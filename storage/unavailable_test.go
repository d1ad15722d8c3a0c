package storage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

func TestUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for name, err := range map[string]error{
		"refused":  fmt.Errorf("get: %w", refused),
		"deadline": context.DeadlineExceeded,
		"marked":   MarkUnavailable(errors.New("pool timeout")),
		"reset":    syscall.ECONNRESET,
	} {
		if !Unavailable(err) {
			t.Errorf("%s: not unavailable", name)
		}
	}
	for name, err := range map[string]error{"nil": nil, "not found": ErrNotFound, "conflict": fmt.Errorf("x: %w", ErrConflict), "canceled": context.Canceled} {
		if Unavailable(err) {
			t.Errorf("%s: unavailable", name)
		}
	}
	if m := MarkUnavailable(ErrNotFound); !errors.Is(m, ErrNotFound) || m.Error() != ErrNotFound.Error() {
		t.Errorf("marking lost the error: %v", m)
	}
}
