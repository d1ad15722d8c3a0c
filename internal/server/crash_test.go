package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/storage"
)

// childEnv makes the test binary a latch server (serveChild): a process
// the test can kill with SIGKILL.
const childEnv = "LATCH_TEST_CHILD_LISTEN"

func TestMain(m *testing.M) {
	if addr := os.Getenv(childEnv); addr != "" {
		serveChild(addr)
		return
	}
	os.Exit(m.Run())
}

// serveChild serves latch on addr over the stores the parent names, until
// the process is killed.
func serveChild(addr string) {
	c := cheapConfig()
	c.Issuer = "http://" + addr
	c.DatabaseURL, c.RedisURL = os.Getenv("LATCH_DATABASE_URL"), os.Getenv("LATCH_REDIS_URL")
	c.Secrets = [][]byte{[]byte(os.Getenv("LATCH_SECRET"))}
	ctx := context.Background()
	srv, err := New(ctx, *c, io.Discard, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	srv.Serve(ctx, ln)
}

// startChild runs a latch process over s's stores and returns its URL.
func startChild(t *testing.T, s *testServer) (string, *exec.Cmd) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+addr, "LATCH_DATABASE_URL="+s.cfg.DatabaseURL, "LATCH_REDIS_URL="+s.cfg.RedisURL,
		"LATCH_SECRET="+string(s.cfg.Secrets[0]))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	eventually(t, "the child latch serving", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return base, cmd
}

// TestSIGKILLLeavesNothingHalfWritten kills a latch process while refresh
// tokens rotate through it, many at once: each rotation is one
// transaction, so afterwards every token family has at most one active
// token, and one unless it was revoked, and every old token is still told
// apart (a refresh either works or is invalid_grant, never a 500).
func TestSIGKILLLeavesNothingHalfWritten(t *testing.T) {
	s := startServer(t, nil)
	rp := s.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid offline_access"})
	u := s.user(t, storage.RoleUser)
	families := make([]string, 8)
	for i := range families {
		families[i] = rp.login(t, s.browser(), u, []string{"openid", "offline_access"}, nil).RefreshToken
	}
	child, cmd := startChild(t, s)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	rotations := 0
	for i := range families {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				rt := families[i]
				mu.Unlock()
				next, err := refreshAt(child, rp, rt)
				if err != nil {
					return // the process is gone
				}
				mu.Lock()
				families[i] = next
				rotations++
				mu.Unlock()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Kill()
	close(stop)
	wg.Wait()
	if rotations == 0 {
		t.Fatal("no rotation went through the process before it was killed")
	}

	checkRefreshFamilies(t, s.cfg.DatabaseURL, rp.client.ID)
	for i, rt := range families {
		status, body := rp.refresh(t, rt)
		if status != http.StatusOK && (status != http.StatusBadRequest || oauthError(body) != "invalid_grant") {
			t.Errorf("family %d after the crash: %s", i, describe(status, body))
		}
	}
	checkRefreshFamilies(t, s.cfg.DatabaseURL, rp.client.ID)
}

// refreshAt rotates rt at the latch at base and returns the new token.
func refreshAt(base string, rp *relyingParty, rt string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(rp.client.ID), url.QueryEscape(rp.secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil || body.RefreshToken == "" {
		return "", errors.New(resp.Status)
	}
	return body.RefreshToken, nil
}

// checkRefreshFamilies reads the refresh tokens of clientID from the
// database: per family at most one active token, and one unless the family
// was revoked.
func checkRefreshFamilies(t *testing.T, databaseURL, clientID string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), `SELECT request_id, count(*) FILTER (WHERE active), bool_or(revoked_at IS NOT NULL)
		FROM refresh_tokens WHERE client_id = $1 GROUP BY request_id`, clientID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var family string
		var active int
		var revoked bool
		if err := rows.Scan(&family, &active, &revoked); err != nil {
			t.Fatal(err)
		}
		n++
		if active > 1 || (active == 0 && !revoked) {
			t.Errorf("family %s: %d active tokens, revoked %v", family, active, revoked)
		}
	}
	if rows.Err() != nil || n == 0 {
		t.Fatalf("families read: %d, %v", n, rows.Err())
	}
}
