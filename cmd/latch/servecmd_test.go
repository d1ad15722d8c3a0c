package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/internal/testenv"
)

// TestServeDev runs `latch serve --dev` as `make run` does: the flags reach
// the server (development mode, the listen addresses, the default issuer),
// the demo single-page app's origin may call the token endpoint from a
// browser, and it stops cleanly when its context ends. What a --dev server prints and
// serves is internal/server's TestDevServer.
func TestServeDev(t *testing.T) {
	t.Setenv("LATCH_SECRET", "")
	t.Setenv("LATCH_DATABASE_URL", "")
	t.Setenv("LATCH_REDIS_URL", "")
	t.Chdir(t.TempDir()) // for the dev seed file
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
	if printed := out.String(); !strings.Contains(printed, "nothing persists") {
		t.Errorf("start-up output lacks %q:\n%s", "nothing persists", printed)
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

	resp, err = http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready map[string]string
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != 200 || ready["memory"] != "ok" || ready["redis_in_process"] != "ok" || ready["postgres"] != "" {
		t.Errorf("/readyz in --dev names what it checks: %d %v", resp.StatusCode, ready)
	}

	preflight, _ := http.NewRequest(http.MethodOptions, base+"/oauth2/token", nil)
	preflight.Header.Set("Origin", "http://localhost:8083")
	preflight.Header.Set("Access-Control-Request-Method", "POST")
	resp, err = http.DefaultClient.Do(preflight)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://localhost:8083" {
		t.Errorf("token endpoint preflight from the demo SPA: Access-Control-Allow-Origin %q", got)
	}

	mm := regexp.MustCompile(`metrics on (127\.0\.0\.1:\d+)`).FindStringSubmatch(out.String())
	if mm == nil {
		t.Fatalf("no metrics listener announced:\n%s", out.String())
	}
	resp, err = http.Get("http://" + mm[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("metrics: %d", resp.StatusCode)
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
type syncBuffer = testenv.Buffer
