package password

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-idp/latch/internal/testenv"
)

// rangeServer is a fake Pwned Passwords range API listing breached, with
// padding lines. It records every request.
type rangeServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
}

func newRangeServer(t *testing.T, breached ...string) *rangeServer {
	t.Helper()
	byPrefix := map[string][]string{}
	for _, pw := range breached {
		sum := sha1.Sum([]byte(pw))
		d := strings.ToUpper(hex.EncodeToString(sum[:]))
		byPrefix[d[:5]] = append(byPrefix[d[:5]], d[5:]+":42")
	}
	rs := &rangeServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.requests = append(rs.requests, r.Clone(context.Background()))
		rs.mu.Unlock()
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		lines := append([]string{}, byPrefix[prefix]...)
		if r.Header.Get("Add-Padding") == "true" {
			// Padding lines carry count 0; one has the suffix of a
			// password the test treats as safe, so padding must be skipped.
			lines = append(lines, "0000000000000000000000000000000000A:0")
			if safe := sha1Hex("padded but safe 1"); safe[:5] == prefix {
				lines = append(lines, safe[5:]+":0")
			}
		}
		fmt.Fprint(w, strings.Join(lines, "\r\n"))
	}))
	t.Cleanup(rs.Close)
	return rs
}

func (rs *rangeServer) Requests() []*http.Request {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]*http.Request(nil), rs.requests...)
}

func sha1Hex(pw string) string {
	sum := sha1.Sum([]byte(pw))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func TestBreachedRangeRequest(t *testing.T) {
	rs := newRangeServer(t, "hunter2-but-longer")
	b := NewBreach(BreachOptions{URL: rs.URL + "/range/", Enabled: true})
	breached, err := b.Breached(t.Context(), "hunter2-but-longer")
	if err != nil || !breached {
		t.Fatalf("Breached = %v, %v; want true", breached, err)
	}
	reqs := rs.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if want := "/range/" + sha1Hex("hunter2-but-longer")[:5]; r.URL.Path != want || r.URL.RawQuery != "" {
		t.Fatalf("request %q, want only the prefix: %q", r.URL.RequestURI(), want)
	}
	if r.Method != http.MethodGet {
		t.Fatalf("method %s, want GET", r.Method)
	}
	if got := r.Header.Get("Add-Padding"); got != "true" {
		t.Fatalf("Add-Padding = %q, want true", got)
	}
	for k, v := range r.Header {
		for _, s := range v {
			if strings.Contains(s, "hunter2") || strings.Contains(strings.ToUpper(s), sha1Hex("hunter2-but-longer")[5:]) {
				t.Fatalf("header %s carries the password or its full hash", k)
			}
		}
	}
}

func TestBreached(t *testing.T) {
	const leaked = "correct-horse-leaked"
	for _, tc := range []struct {
		name       string
		pw         string
		enabled    bool
		failClosed bool
		down       bool
		want       bool
		wantErr    error
		requests   int
	}{
		{name: "breached refused", pw: leaked, enabled: true, want: true, requests: 1},
		{name: "unbreached accepted", pw: "a truly fresh one 8x!", enabled: true, requests: 1},
		{name: "padding line with a matching suffix is not a hit", pw: "padded but safe 1", enabled: true, requests: 1},
		{name: "common password refused without asking", pw: "password1", enabled: true, want: true},
		{name: "common password refused ignoring case", pw: "PassWord1", enabled: true, want: true},
		{name: "disabled: only the common list", pw: leaked, enabled: false},
		{name: "disabled: common still refused", pw: "iloveyou", enabled: false, want: true},
		{name: "down, fail open allows", pw: leaked, enabled: true, down: true},
		{name: "down, fail open still refuses common", pw: "qwertyuiop", enabled: true, down: true, want: true},
		{name: "down, fail closed errors", pw: leaked, enabled: true, down: true, failClosed: true, wantErr: ErrBreachUnavailable},
		{name: "down, fail closed refuses common without error", pw: "qwertyuiop", enabled: true, down: true, failClosed: true, want: true},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			rs := newRangeServer(t, leaked)
			url := rs.URL + "/range/"
			if tc.down {
				rs.Close()
			}
			var logs bytes.Buffer
			b := NewBreach(BreachOptions{
				URL:        url,
				Enabled:    tc.enabled,
				FailClosed: tc.failClosed,
				Timeout:    time.Second,
				Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
			})
			got, err := b.Breached(t.Context(), tc.pw)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("Breached = %v, want %v", got, tc.want)
			}
			if n := len(rs.Requests()); n != tc.requests {
				t.Fatalf("%d range requests, want %d", n, tc.requests)
			}
			if tc.down && tc.want == false && !strings.Contains(logs.String(), "level=WARN") {
				t.Fatalf("no warning logged when the range API is down: %q", logs.String())
			}
			if strings.Contains(logs.String(), tc.pw) {
				t.Fatal("the password reached the log")
			}
		})
	}
}

func TestBreachedServerErrorFailsLikeNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	defer srv.Close()
	quiet := slog.New(slog.DiscardHandler)
	open := NewBreach(BreachOptions{URL: srv.URL + "/", Enabled: true, Logger: quiet})
	if got, err := open.Breached(t.Context(), "some long fresh password"); got || err != nil {
		t.Fatalf("fail open = %v, %v; want false, nil", got, err)
	}
	closed := NewBreach(BreachOptions{URL: srv.URL + "/", Enabled: true, FailClosed: true, Logger: quiet})
	if _, err := closed.Breached(t.Context(), "some long fresh password"); !errors.Is(err, ErrBreachUnavailable) {
		t.Fatalf("fail closed err = %v, want ErrBreachUnavailable", err)
	}
}

func TestBreachedTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	b := NewBreach(BreachOptions{URL: srv.URL + "/", Enabled: true, FailClosed: true, Timeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	start := time.Now()
	_, err := b.Breached(t.Context(), "some long fresh password")
	if !errors.Is(err, ErrBreachUnavailable) {
		t.Fatalf("err = %v, want ErrBreachUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v, the timeout is 50ms", d)
	}
}

func TestBreachedCache(t *testing.T) {
	rdb := testenv.Redis(t)
	rs := newRangeServer(t, "cached-leaked-password")
	b := NewBreach(BreachOptions{URL: rs.URL + "/range/", Enabled: true, Redis: rdb})

	for i, tc := range []struct {
		pw   string
		want bool
	}{
		{"cached-leaked-password", true},
		{"cached-leaked-password", true},
	} {
		got, err := b.Breached(t.Context(), tc.pw)
		if err != nil || got != tc.want {
			t.Fatalf("call %d: Breached = %v, %v; want %v", i, got, err, tc.want)
		}
	}
	if n := len(rs.Requests()); n != 1 {
		t.Fatalf("%d range requests for two checks of one prefix, want 1 (cache hit)", n)
	}
	prefix := sha1Hex("cached-leaked-password")[:5]
	ttl, err := rdb.TTL(t.Context(), cachePrefix+prefix).Result()
	if err != nil || ttl <= 0 {
		t.Fatalf("cached range TTL = %v, %v; want a TTL", ttl, err)
	}

	// The cache answers even with the range API gone, and negatives too.
	rs.Close()
	fresh := "fresh and unlisted"
	for sha1Hex(fresh)[:5] == prefix {
		fresh += "!"
	}
	got, err := b.Breached(t.Context(), "cached-leaked-password")
	if err != nil || !got {
		t.Fatalf("from cache: Breached = %v, %v; want true", got, err)
	}
	// Put an empty answer for fresh's prefix in the cache: an unbreached
	// password is then found clean without the API.
	if err := rdb.Set(t.Context(), cachePrefix+sha1Hex(fresh)[:5], "", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	closed := NewBreach(BreachOptions{URL: rs.URL + "/range/", Enabled: true, FailClosed: true, Redis: rdb})
	if got, err := closed.Breached(t.Context(), fresh); err != nil || got {
		t.Fatalf("cached negative: Breached = %v, %v; want false, nil", got, err)
	}
}

func TestChecker(t *testing.T) {
	rs := newRangeServer(t, "leaked but long enough")
	quiet := slog.New(slog.DiscardHandler)
	up := NewBreach(BreachOptions{URL: rs.URL + "/range/", Enabled: true, Logger: quiet})
	down := NewBreach(BreachOptions{URL: "http://127.0.0.1:1/range/", Enabled: true, FailClosed: true, Timeout: time.Second, Logger: quiet})
	for _, tc := range []struct {
		name    string
		checker Checker
		pw      string
		want    string
		wantErr error
	}{
		{name: "accepted", checker: Checker{Policy: DefaultPolicy(), Breach: up}, pw: "not leaked and long"},
		{name: "too short before breach", checker: Checker{Policy: DefaultPolicy(), Breach: up}, pw: "pass", want: "Use at least 8 characters."},
		{name: "breached", checker: Checker{Policy: DefaultPolicy(), Breach: up}, pw: "leaked but long enough", want: BreachedMessage},
		{name: "common", checker: Checker{Policy: DefaultPolicy(), Breach: up}, pw: "baseball", want: BreachedMessage},
		{name: "nil breach still checks the common list", checker: Checker{Policy: DefaultPolicy()}, pw: "password123", want: BreachedMessage},
		{name: "nil breach accepts the rest", checker: Checker{}, pw: "leaked but long enough"},
		{name: "fail closed explains", checker: Checker{Policy: DefaultPolicy(), Breach: down}, pw: "not leaked and long", want: UnavailableMessage, wantErr: ErrBreachUnavailable},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			err := tc.checker.Check(t.Context(), tc.pw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want accepted", err)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Message != tc.want {
				t.Fatalf("Check = %v, want *Error %q", err, tc.want)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Check = %v, want it to wrap %v", err, tc.wantErr)
			}
		})
	}
}
