package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/telemetry"
)

// MaxAttempts is how many times an email is tried before it is given up.
const MaxAttempts = 10

// Backoff returns how long to wait after the attempt-th failed attempt
// (1-based) before the next one.
type Backoff func(attempt int) time.Duration

// DefaultBackoff is River's schedule: attempt⁴ seconds with ±10% jitter
// (1 s, 16 s, 81 s, ...; about 4.5 hours over MaxAttempts).
func DefaultBackoff(attempt int) time.Duration {
	base := math.Pow(float64(max(attempt, 1)), 4)
	jitter := base * 0.1 * (2*rand.Float64() - 1)
	return time.Duration((base + jitter) * float64(time.Second))
}

// Backlog is what waits in a queue: emails not yet sent nor given up, and
// when the oldest of them was queued (zero when none waits).
type Backlog struct {
	Depth  int
	Oldest time.Time
}

// delivery renders and sends one job and logs the outcome. It is shared by
// the PostgreSQL worker and the in-process queue, so both follow one rule.
type delivery struct {
	renderer *Renderer
	sender   Sender
	logger   *slog.Logger
	metrics  *telemetry.Metrics
}

// deliver makes attempt number attempt of maxAttempts. It returns nil on
// success; otherwise the (redacted) error and whether the job is done for
// good: a permanent failure or the last attempt.
func (d delivery) deliver(ctx context.Context, job storage.MailJob, attempt, maxAttempts int) (err error, final bool) {
	attrs := []any{
		slog.String("template", job.Template),
		slog.String("recipient_domain", domainOf(job.To)),
		slog.Int("attempt", attempt),
		slog.Int("max_attempts", maxAttempts),
	}
	msg, err := d.renderer.Render(job)
	if err == nil {
		err = d.sender.Send(ctx, msg)
		if err == nil {
			d.logger.InfoContext(ctx, "mail: sent", attrs...)
			d.metrics.MailDelivery(telemetry.MailSent)
			return nil, true
		}
	} else {
		err = fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	// Servers quote the recipient in their replies; logs and the queue's
	// error column get the domain only.
	err = redact(err, job.To)
	attrs = append(attrs, slog.String("error", err.Error()))
	switch {
	case errors.Is(err, ErrPermanent):
		d.logger.ErrorContext(ctx, "mail: giving up: the email cannot be delivered", attrs...)
		d.metrics.MailDelivery(telemetry.MailGivenUp)
		return err, true
	case attempt >= maxAttempts:
		d.logger.ErrorContext(ctx, "mail: giving up after the last attempt", attrs...)
		d.metrics.MailDelivery(telemetry.MailGivenUp)
		return err, true
	default:
		d.logger.WarnContext(ctx, "mail: send failed; will retry", attrs...)
		d.metrics.MailDelivery(telemetry.MailRetry)
		return err, false
	}
}

// redactedError hides the recipient's local part in an error's text while
// keeping the chain for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, to string) error {
	msg := err.Error()
	addr := to
	if i := strings.LastIndexByte(addr, '<'); i >= 0 {
		addr = strings.TrimSuffix(addr[i+1:], ">")
	}
	addr = strings.TrimSpace(addr)
	local := addr
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local = addr[:i]
	}
	out := msg
	if addr != "" {
		out = strings.ReplaceAll(out, addr, "[recipient]@"+domainOf(addr))
	}
	// A short local part would match ordinary words; the full address
	// above covers the usual quoting.
	if len(local) >= 4 {
		out = strings.ReplaceAll(out, local, "[recipient]")
	}
	if out == msg {
		return err
	}
	return &redactedError{msg: out, err: err}
}
