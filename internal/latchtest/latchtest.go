// Package latchtest runs a real latch for tests outside internal/server,
// such as those of the examples: built by server.New exactly as `latch
// serve` builds it, on a PostgreSQL database and a Redis database of the
// test's own (internal/testenv), behind httptest. Users, clients and API
// resources are written straight to the database, as the CLI does. It is
// for tests only and never runs in the server.
package latchtest

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
)

// Password is every test user's password.
const Password = "correct horse battery staple"

// Latch is one running latch.
type Latch struct {
	// URL is the issuer.
	URL    string
	store  *postgres.Store
	box    *secret.Box
	hasher *password.Hasher
	logs   *syncBuffer
}

// Start builds a latch with server.New and serves it until the test ends.
// mutate may change the configuration first (the issuer is set after it).
func Start(t testing.TB, mutate func(*server.Config)) *Latch {
	t.Helper()
	c := config(t)
	if mutate != nil {
		mutate(c)
	}
	hs := httptest.NewUnstartedServer(nil)
	c.Issuer = "http://" + hs.Listener.Addr().String()
	l := &Latch{URL: c.Issuer, logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(l.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(t.Context(), *c, io.Discard, log)
	if err != nil {
		hs.Close()
		t.Fatalf("latch: %v", err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		if t.Failed() {
			logs := l.logs.String()
			if len(logs) > 16<<10 {
				logs = "…" + logs[len(logs)-16<<10:]
			}
			t.Logf("latch log:\n%s", logs)
		}
	})
	if l.box, err = secret.New(c.Secrets...); err != nil {
		t.Fatal(err)
	}
	// A store of the test's own on latch's database, as the CLI opens one.
	if l.store, err = postgres.New(t.Context(), c.DatabaseURL, postgres.Options{}); err != nil {
		t.Fatalf("open latch's database: %v", err)
	}
	t.Cleanup(l.store.Close)
	l.hasher = password.NewHasher(cheapHashing, 4, 2*time.Second)
	return l
}

var cheapHashing = password.Params{Memory: 1024, Iterations: 1, Parallelism: 1}

// config is a production configuration with cheap password hashing and no
// network dependencies besides PostgreSQL and Redis.
func config(t testing.TB) *server.Config {
	return &server.Config{
		DatabaseURL:       testenv.PostgresURL(t),
		RedisURL:          testenv.RedisURL(t),
		Secrets:           [][]byte{[]byte("latchtest-secret-" + randString(24))},
		AccessTokenTTL:    15 * time.Minute,
		RefreshTokenTTL:   720 * time.Hour,
		RefreshIdleTTL:    168 * time.Hour,
		IDTokenTTL:        time.Hour,
		RefreshReuse:      "family",
		IDTokenAlg:        "RS256",
		AccessTokenAlg:    "RS256",
		SessionIdleTTL:    24 * time.Hour,
		SessionTTL:        336 * time.Hour,
		HIBPFailOpen:      true,
		PasswordMinLength: 8,
		Argon2Memory:      int(cheapHashing.Memory),
		Argon2Iterations:  int(cheapHashing.Iterations),
		Argon2Parallelism: int(cheapHashing.Parallelism),
		HashConcurrency:   4,
		HashWait:          2 * time.Second,
		LoginLimitAccount: 50,
		LoginLimitIP:      1000,
		LoginLimitWindow:  15 * time.Minute,
		SMTPFrom:          "latch <no-reply@localhost>",
		Registration:      "closed",
		LogLevel:          "info",
	}
}

// User creates a user of role (storage.RoleUser or storage.RoleAdmin)
// with Password and a verified email.
func (l *Latch) User(t testing.TB, role string) storage.User {
	t.Helper()
	hash, err := l.hasher.Hash(t.Context(), Password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := l.store.CreateUser(t.Context(), storage.User{
		Email: "u-" + strings.ToLower(randString(9)) + "@example.com", Name: "Test " + role,
		Role: role, PasswordHash: hash, EmailVerified: true,
	}, storage.Effects{})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

// Client registers a client and returns it with its secret (empty for a
// public client).
func (l *Latch) Client(t testing.TB, m clients.Metadata) (storage.Client, string) {
	t.Helper()
	c, sec, err := clients.New(m, l.box)
	if err != nil {
		t.Fatalf("clients.New: %v", err)
	}
	if err := l.store.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c, sec
}

// Resource registers an API resource.
func (l *Latch) Resource(t testing.TB, m resources.Metadata) {
	t.Helper()
	r, err := resources.New(m)
	if err != nil {
		t.Fatalf("resources.New: %v", err)
	}
	if err := l.store.CreateResource(t.Context(), r, storage.Effects{}); err != nil {
		t.Fatalf("create resource: %v", err)
	}
}

func randString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer = testenv.Buffer
