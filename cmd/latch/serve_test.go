package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestServeDev runs `latch serve --dev` as `make run` does: it says nothing
// persists, prints the admin login and demo clients, serves discovery and a
// client_credentials token, and stops cleanly when its context ends.
func TestServeDev(t *testing.T) {
	t.Setenv("LATCH_SECRET", "")
	t.Setenv("LATCH_DATABASE_URL", "")
	t.Setenv("LATCH_REDIS_URL", "")
	ctx, cancel := context.WithCancel(t.Context())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--hibp", "off"}, nil, &out, &errOut)
	}()
	addr := regexp.MustCompile(`serving \S+ on (127\.0\.0\.1:\d+)`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s\n%s", out.String(), errOut.String())
		}
		select {
		case err := <-done:
			t.Fatalf("serve --dev exited: %v\n%s", err, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		m = addr.FindStringSubmatch(out.String())
	}
	base := "http://" + m[1]
	printed := out.String()
	for _, want := range []string{"nothing persists", "admin login", "admin@example.com", "demo-app", "demo-service", "emails are printed"} {
		if !strings.Contains(printed, want) {
			t.Errorf("start-up output lacks %q:\n%s", want, printed)
		}
	}

	resp, err := http.Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc map[string]any
	json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if resp.StatusCode != 200 || disc["issuer"] != "http://localhost:8080" {
		t.Fatalf("discovery: %d %v", resp.StatusCode, disc["issuer"])
	}

	secret := regexp.MustCompile(`demo service\s+demo-service / (\S+)`).FindStringSubmatch(printed)
	if secret == nil {
		t.Fatalf("no demo service secret printed:\n%s", printed)
	}
	req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader("grant_type=client_credentials&scope=api:read"))
	req.SetBasicAuth("demo-service", secret[1])
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "access_token") {
		t.Fatalf("client_credentials: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("every response carries a request ID")
	}
	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, resp)
	}

	mm := regexp.MustCompile(`metrics and profiler on (127\.0\.0\.1:\d+)`).FindStringSubmatch(out.String())
	if mm == nil {
		t.Fatalf("no metrics listener announced:\n%s", out.String())
	}
	resp, err = http.Get("http://" + mm[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `latch_http_requests_total{code="200",method="POST",route="/oauth2/token"} 1`) {
		t.Errorf("metrics lack the token request:\n%s", metrics)
	}
	if strings.Contains(string(metrics), "latch_http") && strings.Contains(string(metrics), "scope=") {
		t.Error("metrics must not carry query strings")
	}
	if resp, err := http.Get(base + "/metrics"); err == nil && resp.StatusCode == 200 {
		t.Error("metrics must not be served on the public listener")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve did not stop cleanly: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after its context ended")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
