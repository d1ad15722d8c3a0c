package mail

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/latch-idp/latch/brand"
)

// A test SMTP server (github.com/emersion/go-smtp) on 127.0.0.1.

type tlsMode int

const (
	plainConn tlsMode = iota
	startTLS
	implicitTLS
)

type serverOptions struct {
	tls                tlsMode
	user, password     string          // require AUTH PLAIN when set
	rejectFirst        int             // refuse this many transactions with 451
	rejectAlways       map[string]bool // recipients refused with 451 forever
	rejectPermanently  map[string]bool // recipients refused with 550
	advertiseAuthPlain bool            // offer AUTH without requiring it
	listen             string          // the address to listen on; a free port when empty
}

type received struct {
	from string
	to   []string
	data []byte
	tls  bool
}

type testServer struct {
	opts   serverOptions
	addr   string
	port   string
	client *tls.Config // trusts the server's certificate

	mu       sync.Mutex
	msgs     []received
	attempts map[string]int // RCPT commands per recipient
	txns     int
	authTry  int
}

func startServer(t *testing.T, opts serverOptions) *testServer {
	t.Helper()
	ts := &testServer{opts: opts, attempts: map[string]int{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &testSession{ts: ts, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = true // the client's own rule is under test
	listen := opts.listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	if opts.tls != plainConn {
		serverTLS, clientTLS := selfSignedTLS(t)
		ts.client = clientTLS
		if opts.tls == startTLS {
			srv.TLSConfig = serverTLS
		} else {
			ln = tls.NewListener(ln, serverTLS)
		}
	}
	ts.addr = ln.Addr().String()
	_, ts.port, _ = net.SplitHostPort(ts.addr)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ts
}

// url returns an LATCH_SMTP_URL for the server.
func (ts *testServer) url() string {
	scheme := "smtp"
	if ts.opts.tls == implicitTLS {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: ts.addr}
	if ts.opts.user != "" {
		u.User = url.UserPassword(ts.opts.user, ts.opts.password)
	}
	return u.String()
}

func (ts *testServer) sender(t *testing.T) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender(SMTPConfig{URL: ts.url(), TLS: ts.client, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (ts *testServer) messages() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

func (ts *testServer) rcptAttempts(to string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.attempts[to]
}

// waitFor polls until n messages arrived, or fails the test.
func (ts *testServer) waitFor(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := ts.messages(); len(m) >= n {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d messages arrived, want %d", len(ts.messages()), n)
	return nil
}

// messageTo returns the message for recipient, if it arrived.
func (ts *testServer) messageTo(to string) (received, bool) {
	for _, m := range ts.messages() {
		for _, r := range m.to {
			if r == to {
				return m, true
			}
		}
	}
	return received{}, false
}

type testSession struct {
	ts     *testServer
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (s *testSession) AuthMechanisms() []string {
	if s.ts.opts.user == "" && !s.ts.opts.advertiseAuthPlain {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	s.ts.mu.Lock()
	s.ts.authTry++
	s.ts.mu.Unlock()
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.ts.opts.user || pass != s.ts.opts.password {
			return errors.New("invalid credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.opts.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.txns++
	if s.ts.txns <= s.ts.opts.rejectFirst {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.from = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.attempts[to]++
	if s.ts.opts.rejectAlways[to] {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "<" + to + ">: mailbox busy"}
	}
	if s.ts.opts.rejectPermanently[to] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: no such user"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.msgs = append(s.ts.msgs, received{from: s.from, to: s.to, data: b, tls: isTLS})
	return nil
}

func (s *testSession) Reset()        { s.from, s.to = "", nil }
func (s *testSession) Logout() error { return nil }

// selfSignedTLS returns a server configuration with a fresh certificate for
// 127.0.0.1 and localhost, and a client configuration that trusts it.
func selfSignedTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "latch test SMTP"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "mail.example.com"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

// parsedMail is a received message taken apart as a mail client would.
type parsedMail struct {
	header  netmail.Header
	to      string
	subject string
	text    string
	html    string
}

func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	for _, h := range []string{"From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Content-Type"} {
		if m.Header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	if _, err := m.Header.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
	var out parsedMail
	out.header = m.Header
	to, err := m.Header.AddressList("To")
	if err != nil || len(to) != 1 {
		t.Fatalf("To header %q: %v", m.Header.Get("To"), err)
	}
	out.to = to[0].Address
	out.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("Subject: %v", err)
	}
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("MIME part: %v", err)
		}
		b, err := io.ReadAll(p) // quoted-printable is decoded by the reader
		if err != nil {
			t.Fatalf("MIME part body: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			out.text = string(b)
		case "text/html":
			out.html = string(b)
		default:
			t.Errorf("unexpected part %q", ct)
		}
	}
	if out.text == "" || out.html == "" {
		t.Fatalf("want both parts; text %d bytes, HTML %d bytes", len(out.text), len(out.html))
	}
	if !strings.Contains(out.text, brand.DefaultName) || !strings.Contains(out.html, brand.DefaultName) {
		t.Errorf("the product name is missing from a part")
	}
	return out
}
