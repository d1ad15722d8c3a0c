package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Sender delivers rendered messages.
type Sender interface {
	// Send delivers msg or returns why not. An error wrapping
	// ErrPermanent will fail again on retry.
	Send(ctx context.Context, msg Message) error
	// Describe says in one line, for the start-up log, where emails go.
	// It never contains a password.
	Describe() string
}

// ErrPermanent marks a failure that retrying cannot fix (the server refused
// the recipient with a 5xx reply, or the job cannot be rendered).
var ErrPermanent = errors.New("permanent failure")

// NewSender returns the sender that LATCH_SMTP_URL (cfg.URL) calls for: an
// SMTPSender when it is set, else a StdoutSender writing to stdout (the
// development fallback; its Describe says so for the start-up line).
func NewSender(cfg SMTPConfig, stdout io.Writer) (Sender, error) {
	if cfg.URL == "" {
		return NewStdoutSender(stdout), nil
	}
	return NewSMTPSender(cfg)
}

// StdoutSender writes each email in full, headers and text part (with its
// links), to a writer. It is the development fallback when LATCH_SMTP_URL
// is not set; the links it prints hold live tokens, so it is not for
// production.
type StdoutSender struct {
	mu sync.Mutex
	w  io.Writer
}

// NewStdoutSender returns a StdoutSender writing to w.
func NewStdoutSender(w io.Writer) *StdoutSender { return &StdoutSender{w: w} }

// Describe implements Sender.
func (s *StdoutSender) Describe() string {
	return "mail: LATCH_SMTP_URL is not set: emails are printed to stdout"
}

// Send implements Sender.
func (s *StdoutSender) Send(ctx context.Context, msg Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("----- email (LATCH_SMTP_URL is not set, so it is printed here) -----\n")
	fmt.Fprintf(&b, "From: %s\n", msg.From.String())
	fmt.Fprintf(&b, "To: %s\n", msg.To.String())
	fmt.Fprintf(&b, "Subject: %s\n", msg.Subject)
	fmt.Fprintf(&b, "Date: %s\n", msg.Date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: %s\n\n", msg.MessageID)
	b.WriteString(strings.TrimRight(msg.Text, "\n"))
	b.WriteString("\n----- end of email (the HTML part carries the same text) -----\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.w, b.String()); err != nil {
		return fmt.Errorf("mail: print email: %w", err)
	}
	return nil
}
