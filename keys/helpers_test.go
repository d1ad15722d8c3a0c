package keys

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/memory"
)

// testStore is the real in-memory backend, which passes the same
// storagetest conformance suite as PostgreSQL.
type testStore struct{ *memory.Store }

func (s testStore) list(t *testing.T) []storage.SigningKey {
	t.Helper()
	ks, err := s.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func (s testStore) has(t *testing.T, kid string) bool {
	t.Helper()
	return slices.ContainsFunc(s.list(t), func(k storage.SigningKey) bool { return k.ID == kid })
}

// clock is a settable clock shared by the managers of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

func testBox(t testing.TB, s string) *secret.Box {
	t.Helper()
	b, err := secret.New([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer = testenv.Buffer

type env struct {
	store testStore
	clock *clock
	box   *secret.Box
	logs  *syncBuffer
}

func newEnv(t testing.TB) *env {
	return &env{store: testStore{memory.New(memory.Options{})}, clock: newClock(), box: testBox(t, testSecret), logs: &syncBuffer{}}
}

// manager returns a manager over the env's store and clock; opts fields
// left zero get test values (a short Refresh, PublishAhead 1m, Retain 1h).
func (e *env) manager(opts Options) *Manager {
	if opts.Refresh == 0 {
		opts.Refresh = 10 * time.Second
	}
	if opts.PublishAhead == 0 {
		opts.PublishAhead = time.Minute
	}
	if opts.Retain == 0 {
		opts.Retain = time.Hour
	}
	opts.Now = e.clock.Now
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return NewManager(e.store, e.box, opts)
}

func (e *env) started(t *testing.T, opts Options) *Manager {
	t.Helper()
	m := e.manager(opts)
	if err := m.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}

// claims returns ID-token-like claims valid for an hour of the env's clock.
func (e *env) claims() fjwt.MapClaims {
	now := e.clock.Now()
	return fjwt.MapClaims{
		"iss": "https://latch.test",
		"sub": "user-1",
		"aud": []string{"client-1"},
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// sign signs the env's claims with the fosite signer of alg and returns
// the token and its kid.
func sign(t *testing.T, e *env, m *Manager, alg string, header *fjwt.Headers) (string, string) {
	t.Helper()
	if header == nil {
		header = fjwt.NewHeaders()
	}
	tok, sig, err := m.Signer(alg).Generate(t.Context(), e.claims(), header)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(tok, "."+sig) {
		t.Fatalf("signature %q is not the token's last part", sig)
	}
	h, _ := decodeHeader(t, tok)
	return tok, h["kid"].(string)
}

func kids(m *Manager) []string {
	var out []string
	for _, k := range m.List() {
		out = append(out, k.ID)
	}
	return out
}
