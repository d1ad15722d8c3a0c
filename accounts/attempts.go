package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Limiter counts failures of a key and locks it out, with the lock doubling
// at each further failure (ratelimit.Limiter).
type Limiter interface {
	// Begin admits one attempt, or says how long the key must wait; the
	// caller runs release once the attempt was counted.
	Begin(ctx context.Context, key string) (wait time.Duration, release func(), err error)
	Fail(ctx context.Context, key string) (wait time.Duration, err error)
	Reset(ctx context.Context, key string) error
}

// Attempts is the one way latch checks a secret (a password, a TOTP or
// backup code) that someone may try to guess: under a limit per account
// and, where there is one, a limit per client address.
type Attempts struct {
	account Limiter
	ip      Limiter // nil: the account limit only
	log     *slog.Logger
}

// NewAttempts returns the helper over the per-account limit and the
// per-address one (ip may be nil).
func NewAttempts(account, ip Limiter, log *slog.Logger) *Attempts {
	if log == nil {
		log = slog.Default()
	}
	return &Attempts{account: account, ip: ip, log: log}
}

// Keys name what an attempt counts against: Account the account (or, for a
// sign-in, the typed email, so that unknown emails are limited alike), IP
// the client address (ignored without a per-address limit).
type Keys struct {
	Account, IP string
}

// Check admits one attempt under both limits and runs check, which says
// whether the secret was right. It returns nil when it was, and then clears
// the account's count; ErrWrong for a wrong secret, counted against both
// limits; a *LockedError when a key was locked already or this failure
// locked it (by the longest of the two); check's own error (password.ErrBusy
// among them) as it is.
//
// The attempt is admitted before check and let go only after it was
// counted, so that parallel attempts cannot all pass the limits before the
// first of them fails.
func (a *Attempts) Check(ctx context.Context, k Keys, check func(context.Context) (bool, error)) error {
	wait, release, err := a.begin(ctx, k)
	if err != nil {
		return fmt.Errorf("accounts: check rate limit: %w", err)
	}
	defer release()
	if wait > 0 {
		return &LockedError{Wait: wait}
	}
	ok, err := check(ctx)
	if err != nil {
		return err
	}
	if !ok {
		wait, err := a.Fail(ctx, k)
		if err != nil {
			return err
		}
		if wait > 0 {
			return &LockedError{Wait: wait}
		}
		return ErrWrong
	}
	if err := a.account.Reset(ctx, k.Account); err != nil && ctx.Err() == nil {
		a.log.WarnContext(ctx, "accounts: reset rate limit", "err", err)
	}
	return nil
}

// begin admits one attempt under both limits, or reports how long the
// caller must wait, by the longest of the two.
func (a *Attempts) begin(ctx context.Context, k Keys) (wait time.Duration, release func(), err error) {
	w1, release1, err := a.account.Begin(ctx, k.Account)
	if err != nil {
		return 0, nil, err
	}
	release = release1
	var w2 time.Duration
	if a.ip != nil {
		var release2 func()
		if w2, release2, err = a.ip.Begin(ctx, k.IP); err != nil {
			release1()
			return 0, nil, err
		}
		release = func() { release1(); release2() }
	}
	if w1 > 0 || w2 > 0 {
		release()
		return max(w1, w2), func() {}, nil
	}
	return 0, release, nil
}

// Fail counts a failure against both limits without a check (each mail a
// page sends on request counts, for one) and returns how long the caller
// must now wait, 0 when it need not.
func (a *Attempts) Fail(ctx context.Context, k Keys) (time.Duration, error) {
	w1, err := a.account.Fail(ctx, k.Account)
	if err != nil {
		return 0, fmt.Errorf("accounts: count failure: %w", err)
	}
	var w2 time.Duration
	if a.ip != nil {
		if w2, err = a.ip.Fail(ctx, k.IP); err != nil {
			return 0, fmt.Errorf("accounts: count failure: %w", err)
		}
	}
	return max(w1, w2), nil
}

// Locked reports the wait of a *LockedError in err.
func Locked(err error) (time.Duration, bool) {
	var le *LockedError
	if errors.As(err, &le) {
		return le.Wait, true
	}
	return 0, false
}
