package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/migrations"
	"github.com/latch-idp/latch/storage"
)

// replicas are latch servers on one PostgreSQL and one Redis database,
// behind a balancer that sends each request to the next one in turn.
type replicas struct {
	*testServer // replica 0's, with the balancer's URL
	servers     []*Server
	next        atomic.Uint64
	served      []atomic.Int64
}

func (rs *replicas) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(rs.next.Add(1)-1) % len(rs.servers)
	rs.served[i].Add(1)
	rs.servers[i].Handler().ServeHTTP(w, r)
}

// startReplicas starts n replicas at once on an empty database.
func startReplicas(t *testing.T, n int, mutate func(*Config)) *replicas {
	t.Helper()
	c := testConfig(t)
	c.KeyRefresh = 200 * time.Millisecond
	if mutate != nil {
		mutate(c)
	}
	rs := &replicas{servers: make([]*Server, n), served: make([]atomic.Int64, n)}
	hs := httptest.NewUnstartedServer(rs)
	c.Issuer = "http://" + hs.Listener.Addr().String()
	ts := &testServer{URL: c.Issuer, cfg: c, out: &syncBuffer{}, logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs.servers[i], errs[i] = New(t.Context(), *c, ts.out, log)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		for _, s := range rs.servers {
			s.Close()
		}
	})
	ts.Server = rs.servers[0]
	rs.testServer = ts
	ts.prepare(t)
	return rs
}

func TestReplicasStartTogetherOnAnEmptyDatabase(t *testing.T) {
	rs := startReplicas(t, 3, func(c *Config) { c.AdminEmail, c.AdminPassword = "admin@example.com", "an admin's long passphrase" })
	conn, err := pgx.Connect(t.Context(), rs.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var admins, bootstraps int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE role = 'admin'`).Scan(&admins); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE kind = 'admin_bootstrapped'`).Scan(&bootstraps); err != nil {
		t.Fatal(err)
	}
	if admins != 1 || bootstraps != 1 {
		t.Errorf("%d admins and %d bootstrap events, want one of each", admins, bootstraps)
	}
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil || applied != len(all) {
		t.Errorf("%d migrations recorded, want %d (%v)", applied, len(all), err)
	}
	if strings.Contains(rs.logs.String(), "level=ERROR") {
		t.Errorf("errors while starting together:\n%s", rs.logs.String())
	}
}

func TestReplicasServeOneFlowStepByStep(t *testing.T) {
	rs := startReplicas(t, 3, nil)
	rp := rs.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid offline_access",
		PostLogoutRedirectURIs: []string{"https://app.example.com/bye"}})
	u := rs.user(t, storage.RoleUser)
	b := rs.browser()
	tok := rp.login(t, b, u, []string{"openid", "offline_access"}, nil)
	status, body := rp.refresh(t, tok.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh: %s", describe(status, body))
	}
	if !rs.active(t, claim(body, "access_token")) {
		t.Error("the refreshed access token introspects inactive")
	}
	logout := claim(discovery(t, rs.testServer), "end_session_endpoint")
	p := b.get(t, logout+"?id_token_hint="+tok.RawIDToken+"&post_logout_redirect_uri=https://app.example.com/bye")
	if p.Location == nil || p.Location.Host != "app.example.com" {
		t.Fatalf("logout: %d %v", p.Status, p.Location)
	}
	if p := b.get(t, rs.URL+"/account"); p.Location == nil || p.Location.Path != "/login" {
		t.Errorf("the session outlived the sign-out: %d %v", p.Status, p.Location)
	}
	for i := range rs.servers {
		if rs.served[i].Load() == 0 {
			t.Errorf("replica %d served nothing", i)
		}
	}
}

func TestReplicasSignWithAKeyRotatedThroughOne(t *testing.T) {
	rs := startReplicas(t, 3, nil)
	svc := rs.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	created, err := rs.servers[1].keys.Rotate(t.Context())
	if err != nil || len(created) != len(keys.Algorithms()) { // a key of each algorithm
		t.Fatalf("rotate: %v, %d keys", err, len(created))
	}
	// The new key of the access tokens' algorithm.
	h, _ := rs.verifyJWT(t, ccToken(t, svc, "api:read"))
	i := slices.IndexFunc(created, func(k storage.SigningKey) bool { return k.Algorithm == h.Algorithm })
	if i < 0 {
		t.Fatalf("no new %s key among %d", h.Algorithm, len(created))
	}
	// Three tokens in a row, one from each replica, all by the new key.
	eventually(t, "every replica signing with the new key", func() bool {
		for range rs.servers {
			if h, _ := rs.verifyJWT(t, ccToken(t, svc, "api:read")); h.KeyID != created[i].ID {
				return false
			}
		}
		return true
	})
}

func TestReplicasShareRateLimits(t *testing.T) {
	rs := startReplicas(t, 3, func(c *Config) { c.LoginLimitAccount = 3 })
	u := rs.user(t, storage.RoleUser)
	b := rs.browser()
	var last *page
	for range 4 {
		f := b.get(t, rs.URL+"/login").formWith(t, "password")
		last = b.submit(t, f, map[string]string{"email": u.Email, "password": "not the password"}, [2]string{})
	}
	if last.Status != http.StatusTooManyRequests {
		t.Fatalf("the fourth wrong password, spread over three replicas: %d, want 429", last.Status)
	}
}
