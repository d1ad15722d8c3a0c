package server

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/login"
)

// scrape reads the server's metrics through its metrics handler: each
// sample by its exposition key (name{labels}, labels sorted by name).
func (s *testServer) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	hs := httptest.NewServer(s.tel.Handler(false))
	defer hs.Close()
	return scrapeURL(t, hs.URL+"/metrics")
}

func scrapeURL(t *testing.T, u string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// wantSample fails unless the sample key has the value want.
func wantSample(t *testing.T, m map[string]float64, key string, want float64) {
	t.Helper()
	got, ok := m[key]
	if !ok {
		t.Errorf("no sample %s", key)
	} else if got != want {
		t.Errorf("%s = %v, want %v", key, got, want)
	}
}

// signIn submits the login page with email and pw and returns the status.
func signIn(t *testing.T, s *testServer, email, pw string) int {
	t.Helper()
	b := s.browser()
	p := b.get(t, s.URL+login.PathLogin)
	return b.submit(t, p.formWith(t, "password"), map[string]string{"email": email, "password": pw}, [2]string{}).Status
}

func TestMetricsCountSignInStepsByReason(t *testing.T) {
	s := startServer(t, func(c *Config) { c.LoginLimitAccount = 2 })
	u := s.user(t, "user")
	signIn(t, s, u.Email, testPassword)
	signIn(t, s, "nobody@example.com", testPassword)
	for range 3 { // wrong, wrong and locked out, refused while locked
		signIn(t, s, u.Email, "not the password")
	}
	m := s.scrape(t)
	wantSample(t, m, `latch_signin_succeeded_total{step="password"}`, 1)
	wantSample(t, m, `latch_signin_failed_total{reason="unknown_email",step="password"}`, 1)
	wantSample(t, m, `latch_signin_failed_total{reason="wrong_password",step="password"}`, 2)
	wantSample(t, m, `latch_signin_failed_total{reason="locked",step="password"}`, 1)
	wantSample(t, m, `latch_ratelimit_hits_total{limiter="login-account"}`, 2)
	wantSample(t, m, `latch_ratelimit_hits_total{limiter="login-ip"}`, 0)
}

func TestMetricsCountSecondFactorCodes(t *testing.T) {
	s := startServer(t, nil)
	u := s.user(t, "user")
	s.enableTOTP(t, u.ID)
	b := s.browser()
	p := b.get(t, s.URL+login.PathLogin)
	p = b.submit(t, p.formWith(t, "password"), map[string]string{"email": u.Email, "password": testPassword}, [2]string{})
	if p.Location != nil {
		p = b.get(t, p.Location.String())
	}
	b.submit(t, p.formWith(t, "code"), map[string]string{"code": "000000"}, [2]string{})
	m := s.scrape(t)
	wantSample(t, m, `latch_signin_succeeded_total{step="password"}`, 1)
	wantSample(t, m, `latch_signin_failed_total{reason="wrong_code",step="code"}`, 1)
	wantSample(t, m, `latch_signin_succeeded_total{step="code"}`, 0)
}

func TestMetricsCountTokensByGrantAndRefreshReuse(t *testing.T) {
	o := startOIDC(t)
	u := o.s.user(t, "user")
	tok := o.basic.login(t, o.s.browser(), u, []string{"openid", "offline_access"}, nil)
	if status, body := o.basic.refresh(t, tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh: %s", describe(status, body))
	}
	if status, body := o.basic.refresh(t, tok.RefreshToken); status == http.StatusOK {
		t.Fatalf("reuse was accepted: %v", body)
	}
	o.s.rsToken(t, o.service)
	m := o.s.scrape(t)
	wantSample(t, m, `latch_tokens_issued_total{grant="authorization_code"}`, 1)
	wantSample(t, m, `latch_tokens_issued_total{grant="refresh_token"}`, 1)
	wantSample(t, m, `latch_tokens_issued_total{grant="client_credentials"}`, 1)
	wantSample(t, m, `latch_refresh_reuse_detected_total`, 1)
}

// rangeAPI is a breached-password range API that lists pw's suffix when
// listed, and answers status otherwise.
func rangeAPI(t *testing.T, pw string, listed bool, status int) string {
	sum := sha1.Sum([]byte(pw))
	suffix := strings.ToUpper(hex.EncodeToString(sum[:]))[5:]
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		if listed {
			fmt.Fprintf(w, "%s:42\r\n", suffix)
		}
		fmt.Fprintf(w, "%s:0\r\n", strings.Repeat("0", 35))
	}))
	t.Cleanup(hs.Close)
	return hs.URL + "/range/"
}

func TestMetricsCountBreachLookupsByResult(t *testing.T) {
	for _, tc := range []struct {
		name          string
		listed        bool
		status        int
		counted, zero string
	}{
		{"breached", true, http.StatusOK, "breached", "failed"},
		{"api-down", false, http.StatusServiceUnavailable, "failed", "breached"},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			s := startServer(t, func(c *Config) { c.HIBP, c.HIBPURL = true, rangeAPI(t, testPassword, tc.listed, tc.status) })
			signIn(t, s, s.user(t, "user").Email, testPassword)
			m := s.scrape(t)
			wantSample(t, m, `latch_breach_lookups_total{result="`+tc.counted+`"}`, 1)
			wantSample(t, m, `latch_breach_lookups_total{result="`+tc.zero+`"}`, 0)
		})
	}
}

// requestReset asks for a password reset email for email.
func requestReset(t *testing.T, s *testServer, email string) {
	t.Helper()
	b := s.browser()
	p := b.get(t, s.URL+login.PathForgot)
	if st := b.submit(t, p.formWith(t, "email"), map[string]string{"email": email}, [2]string{}).Status; st >= 400 {
		t.Fatalf("forgot password: %d", st)
	}
}

// waitSample scrapes until the sample key reaches at least want.
func waitSample(t *testing.T, s *testServer, key string, want float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := s.scrape(t)
		if m[key] >= want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after 20s, want %v", key, m[key], want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestMetricsCountMailSentAndEmptyBacklog(t *testing.T) {
	s := startServer(t, nil)
	requestReset(t, s, s.user(t, "user").Email)
	m := waitSample(t, s, `latch_mail_deliveries_total{outcome="sent"}`, 1)
	for range 100 { // the sent job leaves the backlog as River completes it
		if m[`latch_mail_queue_depth`] == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
		m = s.scrape(t)
	}
	wantSample(t, m, `latch_mail_queue_depth`, 0)
	wantSample(t, m, `latch_mail_queue_oldest_age_seconds`, 0)
}

func TestMetricsShowMailFailuresAndTheWaitingBacklog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens: every attempt fails and is retried later
	s := startServer(t, func(c *Config) { c.SMTPURL = "smtp://" + closed })
	requestReset(t, s, s.user(t, "user").Email)
	m := waitSample(t, s, `latch_mail_deliveries_total{outcome="retry"}`, 1)
	wantSample(t, m, `latch_mail_queue_depth`, 1)
	if age := m[`latch_mail_queue_oldest_age_seconds`]; age <= 0 {
		t.Errorf("oldest waiting email's age = %v, want > 0", age)
	}
	wantSample(t, m, `latch_mail_deliveries_total{outcome="sent"}`, 0)
}

func TestMetricsShowPoolsAndSigningKeyAge(t *testing.T) {
	s := startServer(t, nil)
	s.rsToken(t, s.rs)
	m := s.scrape(t)
	for _, key := range []string{
		`latch_db_pool_connections{state="idle"}`, `latch_db_pool_max_connections`, `latch_db_pool_acquires_total`,
		`latch_redis_pool_connections{state="total"}`, `latch_redis_pool_hits_total`,
		`latch_signing_key_age_seconds{alg="RS256"}`,
	} {
		if _, ok := m[key]; !ok {
			t.Errorf("no sample %s", key)
		}
	}
	if m[`latch_db_pool_acquires_total`] < 1 || m[`latch_redis_pool_connections{state="total"}`] < 1 {
		t.Errorf("pools show no use after a token request: %v, %v", m[`latch_db_pool_acquires_total`], m[`latch_redis_pool_connections{state="total"}`])
	}
	if age := m[`latch_signing_key_age_seconds{alg="RS256"}`]; age < 0 || age > 600 {
		t.Errorf("a key made at start is %v seconds old", age)
	}
}

// metricsListener serves s through Serve with a metrics listener of its
// own, as `latch serve` does, and returns the metrics URL.
func (s *testServer) metricsListener(t *testing.T, pprof bool) string {
	t.Helper()
	s.Server.cfg.MetricsListen, s.Server.cfg.Pprof = "127.0.0.1:0", pprof
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	at := regexp.MustCompile(`metrics on (127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if mm := at.FindStringSubmatch(s.out.String()); mm != nil {
			return "http://" + mm[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics listener announced:\n%s", s.out.String())
		}
	}
}

func TestProfilerIsServedOnlyWhenAskedFor(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("case=pprof=%v", on), func(t *testing.T) {
			s := startServer(t, nil)
			base := s.metricsListener(t, on)
			resp, err := http.Get(base + "/debug/pprof/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if want := map[bool]int{false: 404, true: 200}[on]; resp.StatusCode != want {
				t.Errorf("/debug/pprof/ answers %d, want %d", resp.StatusCode, want)
			}
		})
	}
}

func TestProfilerNeedsTheMetricsListener(t *testing.T) {
	c := cheapConfig()
	c.Issuer, c.Dev, c.Pprof = "http://localhost:8080", true, true
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "LATCH_PPROF") {
		t.Fatalf("Validate = %v, want an error naming LATCH_PPROF", err)
	}
}
