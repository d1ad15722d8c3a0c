package password

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Policy is the NIST SP 800-63B length rule: nothing about which kinds of
// characters a password holds, only how many. A zero field means its
// default.
type Policy struct {
	MinLength int // default 8
	MaxLength int // default 256; at least 64 must be allowed
}

// Defaults of Policy.
const (
	DefaultMinLength = 8
	DefaultMaxLength = 256
	// MinMaxLength is the least upper bound SP 800-63B permits.
	MinMaxLength = 64
)

// DefaultPolicy returns at least 8 and at most 256 characters.
func DefaultPolicy() Policy {
	return Policy{MinLength: DefaultMinLength, MaxLength: DefaultMaxLength}
}

// Validate reports a configuration that SP 800-63B does not allow, for the
// operator to see at start.
func (p Policy) Validate() error {
	p = p.withDefaults()
	var errs []error
	if p.MinLength < 1 {
		errs = append(errs, fmt.Errorf("password minimum length must be at least 1, not %d", p.MinLength))
	}
	if p.MaxLength < MinMaxLength {
		errs = append(errs, fmt.Errorf("password maximum length must allow at least %d characters, not %d", MinMaxLength, p.MaxLength))
	}
	if p.MaxLength < p.MinLength {
		errs = append(errs, fmt.Errorf("password maximum length %d is below the minimum %d", p.MaxLength, p.MinLength))
	}
	return errors.Join(errs...)
}

func (p Policy) withDefaults() Policy {
	if p.MinLength == 0 {
		p.MinLength = DefaultMinLength
	}
	if p.MaxLength == 0 {
		p.MaxLength = DefaultMaxLength
	}
	return p
}

// Check returns nil or an *Error saying what is wrong. Length is counted in
// Unicode code points, so "pässwörd" is eight characters, as its owner
// would count them.
func (p Policy) Check(pw string) error {
	p = p.withDefaults()
	n := utf8.RuneCountInString(pw)
	switch {
	case n < p.MinLength:
		return &Error{Message: fmt.Sprintf("Use at least %d characters.", p.MinLength), ID: "password.too_short", Args: []any{"Count", p.MinLength}}
	case n > p.MaxLength:
		return &Error{Message: fmt.Sprintf("Use at most %d characters.", p.MaxLength), ID: "password.too_long", Args: []any{"Count", p.MaxLength}}
	}
	return nil
}

// Error is a refusal of a new password, with a message written for the
// page in English; ID and Args are the same message in latch's catalogs
// (package locale), for pages in other languages. Err, when set, is the
// underlying cause (for example ErrBreachUnavailable) for errors.Is; it is
// not for display.
type Error struct {
	Message string
	ID      string
	Args    []any
	Err     error
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Err }

// BreachedMessage is the message for a password found in a breach or in the
// common-password list.
const BreachedMessage = "This password has appeared in a data breach. Choose a different one."

// UnavailableMessage is the message when the breach check is configured to
// fail closed and the range API cannot be reached.
const UnavailableMessage = "We can't check this password against known breaches right now. Try again in a moment."

// Checker decides whether a new password (registration, change, reset,
// admin bootstrap) is acceptable.
type Checker struct {
	Policy Policy
	Breach *Breach // nil checks the bundled common-password list only
}

// Check returns nil, or an *Error with a readable message: the length rule
// first, then the breach check. When the breach check fails closed the
// *Error wraps ErrBreachUnavailable.
func (c Checker) Check(ctx context.Context, pw string) error {
	if err := c.Policy.Check(pw); err != nil {
		return err
	}
	var breached bool
	var err error
	if c.Breach != nil {
		breached, err = c.Breach.Breached(ctx, pw)
	} else {
		breached = Common(pw)
	}
	if err != nil {
		return &Error{Message: UnavailableMessage, ID: "password.check_unavailable", Err: err}
	}
	if breached {
		return &Error{Message: BreachedMessage, ID: "password.breached"}
	}
	return nil
}
