package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startDev runs `latch serve --dev` on a free port, its issuer that
// address, and returns the issuer and what it printed.
func startDev(t *testing.T) (string, string) {
	t.Helper()
	t.Setenv("LATCH_SECRET", "")
	t.Setenv("LATCH_DATABASE_URL", "")
	t.Setenv("LATCH_REDIS_URL", "")
	t.Chdir(t.TempDir()) // for the dev seed file
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev", "--listen", addr, "--issuer", "http://" + addr, "--metrics-listen", "127.0.0.1:0", "--hibp", "off"}, nil, &out, &errOut)
	}()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "admin CLI"); {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server does not listen")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + addr, out.String()
}

// remoteCLI runs latch in server mode with the dev admin CLI client.
func remoteCLI(t *testing.T, base, printed string) func(stdin string, args ...string) (map[string]any, error) {
	t.Helper()
	m := regexp.MustCompile(`--client-id (\S+) --client-secret (\S+)`).FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("no admin CLI credentials printed:\n%s", printed)
	}
	return func(stdin string, args ...string) (map[string]any, error) {
		out, _, err := cli(t, stdin, append([]string{"--server", base, "--client-id", m[1], "--client-secret", m[2]}, args...)...)
		var v map[string]any
		json.Unmarshal([]byte(out), &v)
		if v == nil {
			v = map[string]any{"raw": out}
		}
		return v, err
	}
}

func TestCLIServerMode(t *testing.T) {
	base, printed := startDev(t)
	latch := remoteCLI(t, base, printed)
	must := func(stdin string, args ...string) map[string]any {
		t.Helper()
		v, err := latch(stdin, args...)
		if err != nil {
			t.Fatalf("latch --server %s: %v", strings.Join(args, " "), err)
		}
		return v
	}
	t.Run("case=clients create, get, rotate-secret, list, delete", func(t *testing.T) {
		c := must(`{"client_name":"Mine","redirect_uris":["http://127.0.0.1:9000/cb"],"token_endpoint_auth_method":"none"}`, "clients", "create")
		id, _ := c["client_id"].(string)
		if id == "" || c["client_name"] != "Mine" {
			t.Fatalf("created: %v", c)
		}
		if got := must("", "clients", "get", id); got["client_id"] != id {
			t.Fatalf("get: %v", got)
		}
		if raw := must("", "clients", "list")["raw"].(string); !strings.Contains(raw, id) {
			t.Fatalf("list lacks %s", id)
		}
		must("", "clients", "delete", id)
		if _, err := latch("", "clients", "get", id); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("get after delete: %v", err)
		}
	})
	t.Run("case=resources by identifier", func(t *testing.T) {
		must(`{"resource":"https://api.mine.example/v1","scopes":["mine:read"]}`, "resources", "create")
		if got := must("", "resources", "get", "https://api.mine.example/v1"); got["resource"] != "https://api.mine.example/v1" {
			t.Fatalf("get: %v", got)
		}
		must("", "resources", "delete", "https://api.mine.example/v1")
	})
	t.Run("case=users create, set-role by address, disable", func(t *testing.T) {
		u := must("a long enough password 42\n", "users", "create", "--email", "dana@example.com", "--password-stdin")
		if u["email"] != "dana@example.com" {
			t.Fatalf("created: %v", u)
		}
		if got := must("", "users", "set-role", "dana@example.com", "admin"); got["role"] != "admin" {
			t.Fatalf("set-role: %v", got)
		}
		if got := must("", "users", "disable", "dana@example.com"); got["disabled"] != true {
			t.Fatalf("disable: %v", got)
		}
	})
	t.Run("case=keys and registration tokens", func(t *testing.T) {
		must("", "keys", "rotate")
		if tok := must("", "clients", "registration-token", "create", "--max-uses", "2"); tok["token"] == "" || tok["max_uses"] != float64(2) {
			t.Fatalf("token: %v", tok)
		}
	})
	t.Run("case=a bearer token instead of a client credential", func(t *testing.T) {
		m := regexp.MustCompile(`--client-id (\S+) --client-secret (\S+)`).FindStringSubmatch(printed)
		req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader("grant_type=client_credentials&scope=latch:admin"))
		req.SetBasicAuth(m[1], m[2])
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		t.Setenv("LATCH_TOKEN", tok.AccessToken)
		out := mustCLI(t, "", "--server", base, "keys", "list")
		if !strings.Contains(out, `"kid"`) {
			t.Fatalf("keys list with LATCH_TOKEN: %s", out)
		}
	})
	t.Run("case=bad credentials and commands are one clear line", func(t *testing.T) {
		for _, args := range [][]string{
			{"--server", base, "--client-id", "latch-cli", "--client-secret", "wrong", "clients", "list"},
			{"--server", base, "clients", "list"},
			{"--server", "ftp://x", "--token", "t", "clients", "list"},
			{"--server", base, "--token", "not-a-token", "clients", "list"},
		} {
			_, _, err := cli(t, "", args...)
			if err == nil || strings.Contains(err.Error(), "\n") {
				t.Errorf("latch %v: %v", args, err)
			}
		}
		if _, err := latch("", "users", "frobnicate", "x"); !errors.Is(err, errUsage) {
			t.Errorf("unknown subcommand: %v", err)
		}
	})
}
