package server

// The harness of the end-to-end tests: a latch built by New exactly as
// `latch serve` builds it, on a PostgreSQL database and a Redis database of
// its own, behind httptest; a browser with a cookie jar that walks the real
// login and consent pages (harness_browser_test.go); relying parties built
// on golang.org/x/oauth2 and go-oidc (harness_rp_test.go); HTTP and JSON
// helpers (harness_http_test.go); JWT helpers (harness_jwt_test.go); and the
// client sets the protocol and attack tests share (harness_suite_test.go).
// A test of a new area starts its own server with startServer (or a client
// set with startOIDC or startAttack) and uses users of its own.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
)

// testPassword is every test user's password.
const testPassword = "correct horse battery staple"

// issuerLocalhost, set as the Issuer by a test's mutate, has startServer
// serve on http://localhost:PORT instead of the loopback address, so that
// passkeys are on.
const issuerLocalhost = "http://localhost"

// testServer is one running latch.
type testServer struct {
	*Server
	URL    string
	cfg    *Config
	box    *secret.Box
	hasher *password.Hasher
	out    *syncBuffer // what latch prints: emails among it
	logs   *syncBuffer

	once     sync.Once
	provider *oidc.Provider
	// rs authenticates at introspection as a resource server does; it is
	// registered with latch:admin, so it may introspect every token.
	rs *relyingParty
}

// testAPI is the API resource every test server has; it owns the scopes
// api:read, api:write and api:admin.
const testAPI = "https://api.example.com"

// resource registers an API resource.
func (s *testServer) resource(t testing.TB, m resources.Metadata) storage.Resource {
	t.Helper()
	r, err := resources.New(m)
	if err != nil {
		t.Fatalf("resources.New: %v", err)
	}
	if err := s.store.CreateResource(t.Context(), r, storage.Effects{}); err != nil {
		t.Fatalf("create resource: %v", err)
	}
	return r
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer = testenv.Buffer

// testConfig is a production configuration with cheap password hashing and
// no network dependencies besides PostgreSQL and Redis, each a database of
// the test's own.
func testConfig(t testing.TB) *Config {
	c := cheapConfig()
	c.DatabaseURL = testenv.PostgresURL(t)
	c.RedisURL = testenv.RedisURL(t)
	c.Secrets = [][]byte{[]byte("end-to-end-test-secret-" + randString(24))}
	return c
}

// cheapConfig is testConfig without stores and secret: the settings a
// --dev server needs.
func cheapConfig() *Config {
	return &Config{
		AccessTokenTTL:     15 * time.Minute,
		RefreshTokenTTL:    720 * time.Hour,
		RefreshIdleTTL:     168 * time.Hour,
		IDTokenTTL:         time.Hour,
		RefreshReuse:       "family",
		IDTokenAlg:         "RS256",
		AccessTokenAlg:     "RS256",
		SessionIdleTTL:     24 * time.Hour,
		SessionTTL:         336 * time.Hour,
		HIBP:               false,
		HIBPFailOpen:       true,
		PasswordMinLength:  8,
		Argon2Memory:       1024,
		Argon2Iterations:   1,
		Argon2Parallelism:  1,
		HashConcurrency:    4,
		HashWait:           2 * time.Second,
		LoginLimitAccount:  50,
		LoginLimitIP:       1000,
		LoginLimitWindow:   15 * time.Minute,
		SMTPFrom:           "latch <no-reply@localhost>",
		Registration:       "open",
		LogLevel:           "info",
		RefreshGracePeriod: 0,
	}
}

// startServer builds a latch with New and serves it. mutate may
// change the configuration first.
func startServer(t testing.TB, mutate func(*Config)) *testServer {
	t.Helper()
	c := testConfig(t)
	if mutate != nil {
		mutate(c)
	}
	hs := httptest.NewUnstartedServer(nil)
	if c.Issuer == issuerLocalhost {
		// WebAuthn needs a domain name: passkeys are on.
		c.Issuer = fmt.Sprintf("http://localhost:%d", hs.Listener.Addr().(*net.TCPAddr).Port)
	} else {
		c.Issuer = "http://" + hs.Listener.Addr().String()
	}
	ts := &testServer{URL: c.Issuer, cfg: c, out: &syncBuffer{}, logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := New(t.Context(), *c, ts.out, log)
	if err != nil {
		hs.Close()
		t.Fatalf("New: %v", err)
	}
	ts.Server = srv
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		if t.Failed() {
			logs := ts.logs.String()
			if len(logs) > 16<<10 {
				logs = "…" + logs[len(logs)-16<<10:]
			}
			t.Logf("server log:\n%s", logs)
		}
	})
	ts.prepare(t)
	return ts
}

// prepare gives a started server what every test expects: the helpers'
// secret box and hasher, the test API and the resource server's client.
func (s *testServer) prepare(t testing.TB) {
	t.Helper()
	var err error
	s.box, err = secret.New(s.cfg.Secrets...)
	if err != nil {
		t.Fatal(err)
	}
	s.hasher = password.NewHasher(password.Params{Memory: 1024, Iterations: 1, Parallelism: 1}, 4, 2*time.Second)
	s.resource(t, resources.Metadata{Resource: testAPI, Name: "Test API", Scopes: []string{"api:read", "api:write", "api:admin"}})
	s.rs = s.client(t, clients.Metadata{
		ClientName: "Resource Server", GrantTypes: []string{"client_credentials"},
		Scope: "api:read latch:admin", TokenEndpointAuthMethod: storage.AuthMethodBasic,
	})
}

func randString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// user creates a user with testPassword and a verified email.
func (s *testServer) user(t testing.TB, role string) storage.User {
	t.Helper()
	ctx := t.Context()
	hash, err := s.hasher.Hash(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.store.CreateUser(ctx, storage.User{
		Email: "u-" + strings.ToLower(randString(9)) + "@example.com", Name: "Test User",
		Role: role, PasswordHash: hash, EmailVerified: true,
	}, storage.Effects{})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

// enableTOTP gives the user a confirmed TOTP secret and returns it.
func (s *testServer) enableTOTP(t testing.TB, userID string) string {
	t.Helper()
	m := mfa.NewTOTP(s.rdb, s.box, "latch")
	en, err := m.Generate("user")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.UpdateUser(t.Context(), userID, storage.Effects{}, func(u *storage.User) error {
		u.TOTPSecret = m.Seal(userID, en.Secret)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return en.Secret
}

// oidcProvider is go-oidc's view of latch, from discovery.
func (s *testServer) oidcProvider(t testing.TB) *oidc.Provider {
	t.Helper()
	var err error
	// Not t.Context(): the provider (and its key set) outlives this subtest.
	s.once.Do(func() { s.provider, err = oidc.NewProvider(context.Background(), s.URL) })
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	if s.provider == nil {
		t.Fatal("go-oidc discovery failed earlier")
	}
	return s.provider
}

// introspect asks whether a token is active, authenticated as the resource
// server.
func (s *testServer) introspect(t testing.TB, token string) map[string]any {
	t.Helper()
	status, body := s.post(t, "/oauth2/introspect", s.rs.auth(url.Values{"token": {token}}))
	if status != http.StatusOK {
		t.Fatalf("introspect: %d %v", status, body)
	}
	return body
}

func (s *testServer) active(t testing.TB, token string) bool {
	t.Helper()
	return s.introspect(t, token)["active"] == true
}

// userinfo calls the userinfo endpoint with a bearer token.
func (s *testServer) userinfo(t testing.TB, method, token string) (int, map[string]any) {
	t.Helper()
	req := s.request(t, method, "/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return s.doJSON(t, req)
}

func discovery(t testing.TB, s *testServer) map[string]any {
	t.Helper()
	req := s.request(t, http.MethodGet, "/.well-known/openid-configuration", nil)
	status, d := s.doJSON(t, req)
	if status != http.StatusOK {
		t.Fatalf("discovery: %d", status)
	}
	return d
}

// mailJobs counts the emails of template enqueued for to.
func (s *testServer) mailJobs(t testing.TB, to, template string) int {
	t.Helper()
	pg, ok := s.store.(*postgres.Store)
	if !ok {
		t.Fatalf("store is %T, not PostgreSQL", s.store)
	}
	var n int
	err := pg.Pool().QueryRow(t.Context(),
		`SELECT count(*) FROM river_job WHERE kind = 'mail' AND args->>'to' = $1 AND args->>'template' = $2`,
		to, template).Scan(&n)
	if err != nil {
		t.Fatalf("count mail jobs: %v", err)
	}
	return n
}

// auditKinds lists the kinds of the user's audit events.
func (s *testServer) auditKinds(t testing.TB, userID string) []string {
	t.Helper()
	events, err := s.store.ListAudit(t.Context(), userID, 100)
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.Kind)
	}
	return out
}
