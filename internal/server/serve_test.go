package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDevServer runs a --dev server through Serve, as `make run` does: it
// says nothing persists, prints the admin and user logins and the demo
// clients (among them the single-page app of `make demo`), serves a
// client_credentials token to the printed demo secret and its readiness,
// puts the metrics on a listener of their own, and stops cleanly when its
// context ends.
func TestDevServer(t *testing.T) {
	c := cheapConfig()
	c.Dev = true
	c.Issuer = "http://localhost:8080"
	c.MetricsListen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	srv, err := New(ctx, *c, &out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	metricsAt := regexp.MustCompile(`metrics on (127\.0\.0\.1:\d+)`)
	var mm []string
	for deadline := time.Now().Add(30 * time.Second); mm == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("no metrics listener announced:\n%s", out.String())
		}
		select {
		case err := <-done:
			t.Fatalf("Serve returned: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		mm = metricsAt.FindStringSubmatch(out.String())
	}
	base := "http://" + ln.Addr().String()
	printed := out.String()
	for _, want := range []string{"nothing persists", "admin login", "admin@example.com", "user login", "user@example.com", "demo-app", "demo-spa", DevSPAOrigin, "demo-service", DevAPI, "emails are printed"} {
		if !strings.Contains(printed, want) {
			t.Errorf("start-up output lacks %q:\n%s", want, printed)
		}
	}

	secret := regexp.MustCompile(`demo service\s+demo-service / (\S+)`).FindStringSubmatch(printed)
	if secret == nil {
		t.Fatalf("no demo service secret printed:\n%s", printed)
	}
	req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader("grant_type=client_credentials&scope=api:read"))
	req.SetBasicAuth("demo-service", secret[1])
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
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
			t.Fatalf("Serve did not stop cleanly: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not stop after its context ended")
	}
}
