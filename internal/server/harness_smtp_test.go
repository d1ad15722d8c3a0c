package server

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// mailbox is a real SMTP server on loopback (github.com/emersion/go-smtp)
// that keeps every message; a test server sends to it with
// c.SMTPURL = mb.url.
type mailbox struct {
	url  string
	mu   sync.Mutex
	msgs []receivedMail
}

// receivedMail is a message as a mail client shows it.
type receivedMail struct {
	To, Subject, Language string
	Text, HTML            string
}

func startMailbox(t testing.TB) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	mb.url = "smtp://" + ln.Addr().String()
	return mb
}

// waitFor returns the first message to addr, waiting up to ten seconds.
func (mb *mailbox) waitFor(t testing.TB, addr string) receivedMail {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mb.mu.Lock()
		for _, m := range mb.msgs {
			if m.To == addr {
				mb.mu.Unlock()
				return m
			}
		}
		mb.mu.Unlock()
	}
	t.Fatalf("no email to %s arrived", addr)
	return receivedMail{}
}

type mailSession struct {
	mb *mailbox
	to string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *mailSession) Reset()        { s.to = "" }
func (s *mailSession) Logout() error { return nil }

func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := receivedMail{To: s.to}
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	m.Language = msg.Header.Get("Content-Language")
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return err
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return err
		}
		if ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct == "text/html" {
			m.HTML = string(b)
		} else {
			m.Text = string(b)
		}
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, m)
	s.mb.mu.Unlock()
	return nil
}
