package accounts

import (
	"errors"
	"fmt"
	"time"

	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"

	"github.com/latch-idp/latch/locale"
)

// Errors the service returns; callers test them with errors.Is.
var (
	// ErrNotFound: no such user (storage's own error, passed through).
	ErrNotFound = storage.ErrNotFound
	// ErrAlreadyExists: the address has an account already.
	ErrAlreadyExists = storage.ErrAlreadyExists
	// ErrBusy: no password-hashing slot was free (password.ErrBusy).
	ErrBusy = password.ErrBusy
	// ErrWrong: a password or code was wrong; the failure was counted.
	ErrWrong = errors.New("accounts: wrong password or code")
	// ErrStale: the account changed since the caller read it (a password
	// changed meanwhile, a link already used): the step must start again.
	ErrStale = errors.New("accounts: changed since it was read")
	// ErrDisabled: the account is disabled.
	ErrDisabled = errors.New("accounts: user disabled")
)

// ValidationError is input the rules refuse. Message is written for the
// person who typed it, in English (the API and the CLI show it); ID and
// Args are the same message in the catalogs, for pages in any language
// (In); Field names the input it is about.
type ValidationError struct {
	Field   string // FieldEmail, FieldPassword, FieldNewPassword, FieldRole, FieldName
	Message string
	ID      string
	Args    []any
}

// In is the message in l.
func (e *ValidationError) In(l locale.Lang) string {
	if e.ID == "" {
		return e.Message
	}
	return l.T(e.ID, e.Args...)
}

// Fields a ValidationError is about.
const (
	FieldEmail       = "email"
	FieldPassword    = "password"
	FieldNewPassword = "new_password"
	FieldRole        = "role"
	FieldName        = "name"
)

func (e *ValidationError) Error() string { return "accounts: " + e.Field + ": " + e.Message }

// Invalid returns every ValidationError in err (a form shows them all at
// once), none when err is not about the input.
func Invalid(err error) []*ValidationError {
	var out []*ValidationError
	var walk func(error)
	walk = func(err error) {
		if ve, ok := err.(*ValidationError); ok {
			out = append(out, ve)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// LockedError says that too many attempts failed: the key is locked for
// Wait (or was just locked by this failure).
type LockedError struct {
	Wait time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("accounts: too many failed attempts, retry after %s", e.Wait)
}

// UnverifiedError refuses a sign-in of an account whose address is not
// confirmed yet; User is the account, for the page that offers a new link.
type UnverifiedError struct {
	User storage.User
}

func (e *UnverifiedError) Error() string { return "accounts: email unverified" }
