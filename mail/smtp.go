package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"time"
)

// DefaultSMTPTimeout bounds one delivery: dial, TLS, and the whole SMTP
// conversation.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPURL is a parsed LATCH_SMTP_URL.
type SMTPURL struct {
	// ImplicitTLS is true for smtps:// (TLS from the first byte, port 465 by
	// default); smtp:// (port 25 by default) upgrades with STARTTLS when the
	// server offers it.
	ImplicitTLS bool
	Host        string
	Port        string
	Username    string
	Password    string
}

// String returns the URL without the password.
func (u SMTPURL) String() string {
	scheme := "smtp"
	if u.ImplicitTLS {
		scheme = "smtps"
	}
	v := url.URL{Scheme: scheme, Host: net.JoinHostPort(u.Host, u.Port)}
	if u.Username != "" {
		v.User = url.User(u.Username)
	}
	return v.String()
}

// smtpURLForm ends every ParseSMTPURL error. Errors never quote the URL:
// the parser's own errors quote pieces of it, which may be the password.
const smtpURLForm = "expected smtp://[user:password@]host[:port] or smtps://...; percent-encode special characters in the user and password"

// ParseSMTPURL parses LATCH_SMTP_URL. Its errors never contain the password.
func ParseSMTPURL(raw string) (SMTPURL, error) {
	bad := func(why string) (SMTPURL, error) {
		return SMTPURL{}, fmt.Errorf("mail: LATCH_SMTP_URL %s (%s)", why, smtpURLForm)
	}
	if raw == "" {
		return bad("is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("is not a valid URL")
	}
	var out SMTPURL
	switch u.Scheme {
	case "smtp":
		out.Port = "25"
	case "smtps":
		out.ImplicitTLS = true
		out.Port = "465"
	case "":
		return bad("has no scheme")
	default:
		// A scheme is letters, digits, "+-.": it cannot hold the password.
		return bad(fmt.Sprintf("has scheme %q", u.Scheme))
	}
	// A path, query or fragment means the URL did not split where it
	// should (a "/", "?" or "#" in an unencoded password does that), so
	// the host is not to be trusted either: say nothing of it.
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return bad("has a path, query or fragment")
	}
	out.Host = u.Hostname()
	if out.Host == "" {
		return bad("has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("has an invalid port")
		}
		out.Port = p
	}
	if u.User != nil {
		out.Username = u.User.Username()
		out.Password, _ = u.User.Password()
		if out.Username == "" && out.Password != "" {
			return bad("has a password but no user")
		}
	}
	return out, nil
}

// SMTPConfig configures an SMTPSender.
type SMTPConfig struct {
	URL string // LATCH_SMTP_URL
	// Timeout bounds each delivery; zero means DefaultSMTPTimeout.
	Timeout time.Duration
	// TLS is the client TLS configuration (nil: system roots). ServerName
	// defaults to the URL's host.
	TLS *tls.Config
	// Hello is the name given in EHLO; empty means the machine's host name.
	Hello string
}

// SMTPSender delivers messages to one SMTP server, a connection per message.
// With smtp:// it upgrades with STARTTLS when the server offers it; it
// authenticates with PLAIN when the URL has a user, and never sends the
// password unencrypted to a host other than a loopback one.
type SMTPSender struct {
	url     SMTPURL
	timeout time.Duration
	tls     *tls.Config
	hello   string
	// dial is replaced in tests, to reach a loopback server under a
	// non-loopback name.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// NewSMTPSender returns a sender for cfg.URL.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	u, err := ParseSMTPURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	s := &SMTPSender{url: u, timeout: cfg.Timeout, hello: cfg.Hello, dial: (&net.Dialer{}).DialContext}
	if s.timeout <= 0 {
		s.timeout = DefaultSMTPTimeout
	}
	if cfg.TLS != nil {
		s.tls = cfg.TLS.Clone()
	} else {
		s.tls = &tls.Config{}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = u.Host
	}
	if s.tls.MinVersion == 0 {
		s.tls.MinVersion = tls.VersionTLS12
	}
	if s.hello == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			s.hello = h
		} else {
			s.hello = "localhost"
		}
	}
	return s, nil
}

// Describe implements Sender.
func (s *SMTPSender) Describe() string {
	mode := "STARTTLS when offered"
	if s.url.ImplicitTLS {
		mode = "implicit TLS"
	}
	return fmt.Sprintf("mail: sending through %s (%s)", s.url.String(), mode)
}

// Send implements Sender.
func (s *SMTPSender) Send(ctx context.Context, msg Message) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	addr := net.JoinHostPort(s.url.Host, s.url.Port)
	defer func() {
		switch {
		case err == nil:
		case ctx.Err() != nil:
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The connection's deadline is the context's: it may
			// fire a moment before the context notices.
			err = fmt.Errorf("%w (%w after %v)", err, context.DeadlineExceeded, s.timeout)
		}
	}()

	conn, err := s.dial(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	// Cancellation (shutdown) ends the conversation at once.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	secure := s.url.ImplicitTLS
	if secure {
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("mail: TLS with %s: %w", addr, err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.url.Host)
	if err != nil {
		return fmt.Errorf("mail: greeting from %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.Hello(s.hello); err != nil {
		return fmt.Errorf("mail: EHLO to %s: %w", addr, err)
	}
	if !secure {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tls); err != nil {
				return fmt.Errorf("mail: STARTTLS with %s: %w", addr, err)
			}
			secure = true
		}
	}
	if s.url.Username != "" {
		if !secure && !isLoopback(s.url.Host) {
			return fmt.Errorf("mail: %s offers no STARTTLS: refusing to send the SMTP password unencrypted (use smtps:// or a server with STARTTLS)", addr)
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("mail: %s does not offer AUTH, but LATCH_SMTP_URL has a user", addr)
		}
		// net/smtp's PLAIN refuses, on its own too, to run unencrypted
		// except to localhost.
		if err := c.Auth(smtp.PlainAuth("", s.url.Username, s.url.Password, s.url.Host)); err != nil {
			return fmt.Errorf("mail: authenticate to %s as %s: %w", addr, s.url.Username, err)
		}
	}
	if err := c.Mail(msg.From.Address); err != nil {
		return fmt.Errorf("mail: MAIL FROM refused by %s: %w", addr, err)
	}
	if err := c.Rcpt(msg.To.Address); err != nil {
		if isPermanentReply(err) {
			return fmt.Errorf("mail: recipient refused by %s: %w: %w", addr, ErrPermanent, err)
		}
		return fmt.Errorf("mail: recipient refused by %s: %w", addr, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA refused by %s: %w", addr, err)
	}
	if _, err := w.Write(msg.Raw); err != nil {
		return fmt.Errorf("mail: write message to %s: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: message refused by %s: %w", addr, err)
	}
	// The message is accepted; a failing QUIT must not cause a resend.
	_ = c.Quit()
	return nil
}

func isPermanentReply(err error) bool {
	var tp *textproto.Error
	return errors.As(err, &tp) && tp.Code >= 500 && tp.Code < 600
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
