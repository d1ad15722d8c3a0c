package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/storage"
)

// outageAnswer is what latch said during an outage, asked with a client
// that gives up after a few seconds: a guard against a hang (go-redis's
// defaults took five), not a measurement.
type outageAnswer struct {
	status int
	body   map[string]any
	raw    string
}

func askDuringOutage(t *testing.T, req *http.Request) outageAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), 4*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s during the outage: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := outageAnswer{status: resp.StatusCode, raw: string(b)}
	json.Unmarshal(b, &a.body)
	return a
}

// eventually retries f until it holds, for up to ten seconds.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within ten seconds", what)
		}
	}
}

func TestRedisOutage(t *testing.T) {
	rd := testenv.StartRedisServer(t)
	s := startServer(t, func(c *Config) { c.RedisURL = rd.URL() })
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	token := func() outageAnswer {
		return askDuringOutage(t, s.formRequest(t, "/oauth2/token", svc.auth(url.Values{"grant_type": {"client_credentials"}})))
	}
	get := func(path string) outageAnswer {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+path, nil)
		// A browser session to look up: the page must ask Redis.
		req.AddCookie(&http.Cookie{Name: "latch_session", Value: "a-session-token"})
		return askDuringOutage(t, req)
	}
	if a := token(); a.status != http.StatusOK {
		t.Fatalf("before the outage: %d %s", a.status, a.raw)
	}
	for _, c := range []struct {
		name      string
		cut, mend func()
	}{
		{"redis killed", rd.Stop, rd.Start},
		{"redis frozen", rd.Freeze, rd.Thaw},
	} {
		t.Run("case="+c.name, func(t *testing.T) {
			c.cut()
			if a := token(); a.status != http.StatusServiceUnavailable || a.body["error"] != "temporarily_unavailable" {
				t.Errorf("token endpoint: %d %s, want 503 temporarily_unavailable", a.status, a.raw)
			}
			if a := get("/readyz"); a.status != http.StatusServiceUnavailable || a.body["redis"] != "unreachable" || a.body["postgres"] != "ok" {
				t.Errorf("/readyz: %d %s", a.status, a.raw)
			}
			if a := get("/login"); a.status != http.StatusServiceUnavailable || !strings.Contains(a.raw, "cannot reach its storage") {
				t.Errorf("sign-in page: %d, want a readable 503 page", a.status)
			}
			c.mend()
			eventually(t, "tokens after Redis came back", func() bool { return token().status == http.StatusOK })
			if a := get("/readyz"); a.status != http.StatusOK {
				t.Errorf("/readyz after the outage: %d %s", a.status, a.raw)
			}
		})
	}
}

func TestPostgresOutage(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	s := startServer(t, func(c *Config) { c.DatabaseURL = pg.URL() })
	// A client latch has not looked up yet: the token request must ask
	// PostgreSQL, and its absence is an outage, not a wrong client.
	fresh := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	token := func() outageAnswer {
		return askDuringOutage(t, s.formRequest(t, "/oauth2/token", fresh.auth(url.Values{"grant_type": {"client_credentials"}})))
	}
	pg.Stop()
	if a := token(); a.status != http.StatusServiceUnavailable || a.body["error"] != "temporarily_unavailable" {
		t.Errorf("token endpoint with PostgreSQL down: %d %s, want 503 temporarily_unavailable", a.status, a.raw)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/readyz", nil)
	if a := askDuringOutage(t, req); a.status != http.StatusServiceUnavailable || a.body["postgres"] != "unreachable" {
		t.Errorf("/readyz: %d %s", a.status, a.raw)
	}
	pg.Start()
	eventually(t, "tokens after PostgreSQL came back", func() bool { return token().status == http.StatusOK })
}

func TestStartWaitsForPostgres(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	pg.Stop()
	started := make(chan error, 1)
	time.AfterFunc(time.Second, func() { started <- pg.StartErr() })
	s := startServer(t, func(c *Config) { c.DatabaseURL = pg.URL() })
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.logs.String(), "waiting for PostgreSQL") {
		t.Errorf("no line about the wait in the log:\n%s", s.logs.String())
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/readyz", nil)
	if a := askDuringOutage(t, req); a.status != http.StatusOK {
		t.Errorf("/readyz once started: %d %s", a.status, a.raw)
	}
}

// TestShutdownDrainsRequestsInFlight pins what SIGTERM does (cmd/latch
// cancels Serve's context on it): no new connections, and a request
// already begun, whose body is still arriving, is answered in full.
func TestShutdownDrainsRequestsInFlight(t *testing.T) {
	s := startServer(t, nil)
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- s.Server.Serve(ctx, ln) }()

	body, rest := io.Pipe()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+ln.Addr().String()+"/oauth2/token", body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(svc.client.ID), url.QueryEscape(svc.secret))
	answered := make(chan outageAnswer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- outageAnswer{raw: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		a := outageAnswer{status: resp.StatusCode, raw: string(b)}
		json.Unmarshal(b, &a.body)
		answered <- a
	}()
	io.WriteString(rest, "grant_type=client_")
	time.Sleep(200 * time.Millisecond) // the request is in flight
	stop()
	eventually(t, "the listener closed", func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	io.WriteString(rest, "credentials")
	rest.Close()
	if a := <-answered; a.status != http.StatusOK || a.body["access_token"] == nil {
		t.Fatalf("the request in flight: %d %s", a.status, a.raw)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after the drain: %v", err)
	}
}
