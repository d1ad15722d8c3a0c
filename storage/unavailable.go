package storage

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

// ErrUnavailable marks an error of a store that could not be reached: the
// connection was refused, reset or timed out. The request may succeed
// later; it must be answered as an outage (503), never as a wrong
// credential or a missing record.
var ErrUnavailable = errors.New("storage: unavailable")

// Unavailable reports whether err says a store could not be reached:
// marked with ErrUnavailable, or a network failure, a connection cut short
// or a deadline passed.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	return errors.Is(err, ErrUnavailable) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded)
}

// MarkUnavailable returns err marked with ErrUnavailable, its text kept.
func MarkUnavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return unavailable{err}
}

type unavailable struct{ err error }

func (u unavailable) Error() string   { return u.err.Error() }
func (u unavailable) Unwrap() []error { return []error{u.err, ErrUnavailable} }
