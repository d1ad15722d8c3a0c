package mail

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
)

func TestSMTPSenderDeliversEveryTemplate(t *testing.T) {
	r := newTestRenderer(t)
	for _, mode := range []struct {
		name    string
		opts    serverOptions
		wantTLS bool
	}{
		{"starttls with auth", serverOptions{tls: startTLS, user: "latch", password: "p@ss w0rd"}, true},
		{"implicit tls with auth", serverOptions{tls: implicitTLS, user: "latch", password: "pw"}, true},
		{"plain loopback without auth", serverOptions{tls: plainConn}, false},
	} {
		t.Run("case="+mode.name, func(t *testing.T) {
			ts := startServer(t, mode.opts)
			s := ts.sender(t)
			cases := templateCases()
			for _, c := range cases {
				msg, err := r.Render(c.job)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Send(t.Context(), msg); err != nil {
					t.Fatalf("%s: %v", c.job.Template, err)
				}
			}
			ts.waitFor(t, len(cases))
			for _, c := range cases {
				m, ok := ts.messageTo(c.job.To)
				if !ok {
					t.Fatalf("%s: nothing arrived for %s", c.job.Template, c.job.To)
				}
				if m.tls != mode.wantTLS {
					t.Errorf("%s: TLS = %v, want %v", c.job.Template, m.tls, mode.wantTLS)
				}
				if m.from != "noreply@example.com" {
					t.Errorf("envelope from = %q", m.from)
				}
				checkDelivered(t, c, parseMail(t, m.data))
			}
		})
	}
}

func TestSMTPSenderWrongPasswordFails(t *testing.T) {
	ts := startServer(t, serverOptions{tls: startTLS, user: "latch", password: "right"})
	s, err := NewSMTPSender(SMTPConfig{URL: "smtp://latch:wrong-pw@127.0.0.1:" + ts.port, TLS: ts.client})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := newTestRenderer(t).Render(templateCases()[0].job)
	err = s.Send(t.Context(), msg)
	if err == nil || !strings.Contains(err.Error(), "authenticate") || strings.Contains(err.Error(), "wrong-pw") {
		t.Fatalf("err = %v", err)
	}
}

func TestSMTPSenderRefusesPlainAuthWithoutTLSToRemoteHost(t *testing.T) {
	// The server offers AUTH but no STARTTLS; it is reached under a name
	// that is not loopback, as a real remote server would be.
	ts := startServer(t, serverOptions{tls: plainConn, user: "latch", password: "hunter2"})
	s, err := NewSMTPSender(SMTPConfig{URL: "smtp://latch:hunter2@mail.example.com:587"})
	if err != nil {
		t.Fatal(err)
	}
	s.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, ts.addr)
	}
	msg, _ := newTestRenderer(t).Render(templateCases()[0].job)
	err = s.Send(t.Context(), msg)
	if err == nil || !strings.Contains(err.Error(), "refusing to send the SMTP password unencrypted") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Error("the error contains the password")
	}
	ts.mu.Lock()
	authTry := ts.authTry
	ts.mu.Unlock()
	if authTry != 0 || len(ts.messages()) != 0 {
		t.Error("the client authenticated or sent anyway")
	}
}

func TestSMTPSenderTimesOut(t *testing.T) {
	// A server that accepts the connection and never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	s, err := NewSMTPSender(SMTPConfig{URL: "smtp://" + ln.Addr().String(), Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := newTestRenderer(t).Render(templateCases()[0].job)
	start := time.Now()
	err = s.Send(t.Context(), msg)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

func TestSMTPSenderRecipientRefusedWith5xxIsPermanent(t *testing.T) {
	ts := startServer(t, serverOptions{rejectPermanently: map[string]bool{"gone@example.com": true}})
	msg, _ := newTestRenderer(t).Render(storage.MailJob{To: "gone@example.com", Template: TemplateTOTPEnabled, Data: map[string]string{"at": "now"}})
	err := ts.sender(t).Send(t.Context(), msg)
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("err = %v, want ErrPermanent", err)
	}
}

func TestParseSMTPURL(t *testing.T) {
	good := []struct {
		raw  string
		want SMTPURL
		desc string
	}{
		{"smtp://mail.example.com", SMTPURL{Host: "mail.example.com", Port: "25"}, "smtp://mail.example.com:25"},
		{"smtp://u%40x:p%2Fw@mail.example.com:587/", SMTPURL{Host: "mail.example.com", Port: "587", Username: "u@x", Password: "p/w"}, "smtp://u%40x@mail.example.com:587"},
		{"smtps://user:pw@[::1]", SMTPURL{ImplicitTLS: true, Host: "::1", Port: "465", Username: "user", Password: "pw"}, "smtps://user@[::1]:465"},
	}
	for _, c := range good {
		got, err := ParseSMTPURL(c.raw)
		if err != nil || got != c.want {
			t.Errorf("ParseSMTPURL(%q) = %+v, %v; want %+v", c.raw, got, err, c.want)
		}
		if got.String() != c.desc {
			t.Errorf("String() = %q, want %q", got.String(), c.desc)
		}
	}

	const pw = "hunter2secret"
	bad := []struct{ raw, want string }{
		{"", "is empty"},
		{"mail.example.com:25", "LATCH_SMTP_URL"},
		{"http://user:" + pw + "@mail.example.com", `has scheme "http"`},
		{"smtp://user:" + pw + "@", "has no host"},
		{"smtp://user:" + pw + "@mail.example.com:99999", "has an invalid port"},
		{"smtp://user:" + pw + "@mail.example.com:x1", "is not a valid URL"},
		{"smtp://user:" + pw + " @mail.example.com", "is not a valid URL"},
		{"smtp://user:" + pw + "/x@mail.example.com", "LATCH_SMTP_URL"},
		{"smtp://user:12345/" + pw + "@mail.example.com", "has a path"},
		{"smtp://user:" + pw + "?@mail.example.com", "LATCH_SMTP_URL"},
		{"smtp://user:" + pw + "#@mail.example.com", "LATCH_SMTP_URL"},
		{"smtp://:" + pw + "@mail.example.com", "has a password but no user"},
		{"smtp://user:" + pw + "%zz@mail.example.com", "is not a valid URL"},
	}
	for _, c := range bad {
		_, err := ParseSMTPURL(c.raw)
		if err == nil {
			t.Errorf("ParseSMTPURL(%q) accepted it", c.raw)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "smtp://") {
			t.Errorf("ParseSMTPURL(%q) = %v, want it to say %q and the expected form", c.raw, err, c.want)
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "hunter") {
			t.Errorf("ParseSMTPURL(%q): the error shows the password: %v", c.raw, err)
		}
		if _, err := NewSender(SMTPConfig{URL: c.raw}, nil); c.raw != "" && (err == nil || strings.Contains(err.Error(), pw)) {
			t.Errorf("NewSender(%q) = %v", c.raw, err)
		}
	}
}

func TestDescribeNeverShowsThePassword(t *testing.T) {
	s, err := NewSender(SMTPConfig{URL: "smtps://latch:hunter2@mail.example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Describe(); strings.Contains(d, "hunter2") || !strings.Contains(d, "smtps://latch@mail.example.com:465") {
		t.Errorf("Describe() = %q", d)
	}
	var out bytes.Buffer
	s, err = NewSender(SMTPConfig{}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Describe(); d != "mail: LATCH_SMTP_URL is not set: emails are printed to stdout" {
		t.Errorf("Describe() = %q", d)
	}
}

func TestStdoutSenderPrintsTheWholeEmail(t *testing.T) {
	var out bytes.Buffer
	s := NewStdoutSender(&out)
	r := newTestRenderer(t)
	c := templateCases()[1] // password reset
	msg, err := r.Render(c.job)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"From: \"latch\" <noreply@example.com>",
		"To: <bob@example.org>",
		"Subject: Reset your latch password",
		"Message-ID: " + msg.MessageID,
		"Date: ",
		c.link, // whole, not broken by quoted-printable
		"expires in 30 minutes",
		testIssuer,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
