package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
	"github.com/redis/go-redis/v9"
)

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

// cli runs latch with args and returns stdout, stderr and the error.
func cli(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func mustCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := cli(t, stdin, args...)
	if err != nil {
		t.Fatalf("latch %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func cliEnvFor(t *testing.T) string {
	t.Helper()
	dsn := testenv.PostgresURL(t)
	t.Setenv("LATCH_DATABASE_URL", dsn)
	t.Setenv("LATCH_SECRET", testSecret)
	t.Setenv("LATCH_HIBP", "off")
	t.Setenv("LATCH_ARGON2_MEMORY", "19456")
	mustCLI(t, "", "migrate")
	return dsn
}

func TestCLIClients(t *testing.T) {
	dsn := cliEnvFor(t)
	box, err := secret.New([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	meta := `{"client_name":"Web","redirect_uris":["https://app.example.com/cb"],"grant_types":["authorization_code","refresh_token"],"scope":"openid offline_access","post_logout_redirect_uris":["https://app.example.com/"]}`
	var created clients.Metadata

	t.Run("case=create from stdin prints the client with a secret shown once", func(t *testing.T) {
		out := mustCLI(t, meta, "clients", "create")
		if err := json.Unmarshal([]byte(out), &created); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		if created.ClientID == "" || len(created.ClientSecret) < 40 {
			t.Fatalf("want a client_id and a 256-bit secret, got %+v", created)
		}
		if created.TokenEndpointAuthMethod != "client_secret_basic" || created.ClientName != "Web" {
			t.Fatalf("metadata not kept: %+v", created)
		}
		st, err := postgres.New(t.Context(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		c, err := st.GetClient(t.Context(), created.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(c.SecretHash, []byte(created.ClientSecret)) || !box.Verify(clients.SecretPurpose, []byte(created.ClientSecret), c.SecretHash) {
			t.Fatal("the stored secret must be the keyed hash of the printed secret")
		}
	})
	t.Run("case=create from a file, public client has no secret", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "spa.json")
		os.WriteFile(f, []byte(`{"client_id":"spa","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","first_party":true}`), 0o600)
		out := mustCLI(t, "", "clients", "create", "-f", f)
		var m clients.Metadata
		json.Unmarshal([]byte(out), &m)
		if m.ClientID != "spa" || m.ClientSecret != "" || !m.FirstParty {
			t.Fatalf("got %+v", m)
		}
	})
	t.Run("case=bad metadata is refused with the field named", func(t *testing.T) {
		_, _, err := cli(t, `{"redirect_uris":["http://example.com/cb"]}`, "clients", "create")
		if err == nil || !strings.Contains(err.Error(), "redirect_uris") {
			t.Fatalf("want an error naming redirect_uris, got %v", err)
		}
		_, _, err = cli(t, `{not json`, "clients", "create")
		if err == nil || !strings.Contains(err.Error(), "JSON") {
			t.Fatalf("want a JSON error, got %v", err)
		}
		_, _, err = cli(t, `{"client_id":"spa","redirect_uris":["https://x.example/cb"]}`, "clients", "create")
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("want a duplicate error, got %v", err)
		}
	})
	t.Run("case=list and get", func(t *testing.T) {
		var list []clients.Metadata
		if err := json.Unmarshal([]byte(mustCLI(t, "", "clients", "list", "--json")), &list); err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 {
			t.Fatalf("want 2 clients, got %d", len(list))
		}
		for _, c := range list {
			if c.ClientSecret != "" {
				t.Fatal("list must never print a secret")
			}
		}
		if out := mustCLI(t, "", "clients", "list"); !strings.Contains(out, created.ClientID) || !strings.Contains(out, "spa") {
			t.Fatalf("table lacks the clients:\n%s", out)
		}
		var got clients.Metadata
		json.Unmarshal([]byte(mustCLI(t, "", "clients", "get", created.ClientID)), &got)
		if got.ClientID != created.ClientID || got.RedirectURIs[0] != "https://app.example.com/cb" {
			t.Fatalf("get: %+v", got)
		}
		if _, _, err := cli(t, "", "clients", "get", "nope"); err == nil || !strings.Contains(err.Error(), "no client") {
			t.Fatalf("want not found, got %v", err)
		}
	})
	t.Run("case=rotate-secret replaces the secret", func(t *testing.T) {
		var rot map[string]string
		json.Unmarshal([]byte(mustCLI(t, "", "clients", "rotate-secret", created.ClientID)), &rot)
		if rot["client_secret"] == "" || rot["client_secret"] == created.ClientSecret {
			t.Fatalf("want a new secret, got %v", rot)
		}
		st, _ := postgres.New(t.Context(), dsn, postgres.Options{})
		defer st.Close()
		c, _ := st.GetClient(t.Context(), created.ClientID)
		if box.Verify(clients.SecretPurpose, []byte(created.ClientSecret), c.SecretHash) || !box.Verify(clients.SecretPurpose, []byte(rot["client_secret"]), c.SecretHash) {
			t.Fatal("old secret must stop working, new one must work")
		}
		if _, _, err := cli(t, "", "clients", "rotate-secret", "spa"); err == nil || !strings.Contains(err.Error(), "public") {
			t.Fatalf("a public client has no secret to rotate, got %v", err)
		}
	})
	t.Run("case=delete", func(t *testing.T) {
		mustCLI(t, "", "clients", "delete", "spa")
		if _, _, err := cli(t, "", "clients", "get", "spa"); err == nil {
			t.Fatal("deleted client still there")
		}
		if _, _, err := cli(t, "", "clients", "delete", "spa"); err == nil {
			t.Fatal("deleting twice must fail")
		}
	})
	t.Run("case=client secrets need LATCH_SECRET", func(t *testing.T) {
		t.Setenv("LATCH_SECRET", "")
		_, _, err := cli(t, meta, "clients", "create")
		if err == nil || !strings.Contains(err.Error(), "LATCH_SECRET") {
			t.Fatalf("want an error naming LATCH_SECRET, got %v", err)
		}
	})
}

func TestCLIUsers(t *testing.T) {
	dsn := cliEnvFor(t)
	rurl := testenv.RedisURL(t)
	t.Setenv("LATCH_REDIS_URL", rurl)
	var u userView

	t.Run("case=create with a password", func(t *testing.T) {
		out := mustCLI(t, "", "users", "create", "--email", "Alice@Example.com", "--password", "correct horse battery", "--role", "admin", "--json")
		if err := json.Unmarshal([]byte(out), &u); err != nil {
			t.Fatal(err)
		}
		if u.ID == "" || u.Role != "admin" || !u.EmailVerified || u.PasswordMustChange {
			t.Fatalf("got %+v", u)
		}
		if strings.Contains(out, "argon2") {
			t.Fatal("output must not contain the password hash")
		}
	})
	t.Run("case=create from stdin with password-must-change", func(t *testing.T) {
		out := mustCLI(t, "another long passphrase\n", "users", "create", "--email", "bob@example.com", "--password-stdin", "--password-must-change", "--json")
		var b userView
		json.Unmarshal([]byte(out), &b)
		if !b.PasswordMustChange || b.Role != "user" {
			t.Fatalf("got %+v", b)
		}
	})
	t.Run("case=bad input is refused", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"users", "create", "--email", "alice@example.com", "--password", "yet another passphrase"}, "already exists"},
			{[]string{"users", "create", "--email", "carol@example.com", "--password", "short"}, "password refused"},
			{[]string{"users", "create", "--email", "carol@example.com", "--password", "password123"}, "password refused"},
			{[]string{"users", "create", "--email", "nope", "--password", "a fine passphrase"}, "--email"},
			{[]string{"users", "create", "--email", "carol@example.com"}, "--password"},
			{[]string{"users", "create", "--email", "carol@example.com", "--password", "a fine passphrase", "--role", "root"}, "--role"},
			{[]string{"users", "get", "nobody@example.com"}, "no user"},
			{[]string{"users", "set-role", "alice@example.com", "god"}, "set-role"},
		} {
			if _, _, err := cli(t, "", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("latch %s: want error containing %q, got %v", strings.Join(tc.args, " "), tc.want, err)
			}
		}
	})
	t.Run("case=list and get by email, case-insensitively", func(t *testing.T) {
		var list []userView
		json.Unmarshal([]byte(mustCLI(t, "", "users", "list", "--json")), &list)
		if len(list) != 2 {
			t.Fatalf("want 2 users, got %d", len(list))
		}
		var got userView
		json.Unmarshal([]byte(mustCLI(t, "", "users", "get", "alice@example.com")), &got)
		if got.ID != u.ID {
			t.Fatalf("get by email: %+v", got)
		}
	})
	t.Run("case=set-role", func(t *testing.T) {
		var got userView
		json.Unmarshal([]byte(mustCLI(t, "", "users", "set-role", u.ID, "user", "--json")), &got)
		if got.Role != "user" {
			t.Fatalf("role not set: %+v", got)
		}
	})
	t.Run("case=disable ends the user's browser sessions, enable restores", func(t *testing.T) {
		opts, _ := redis.ParseURL(rurl)
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		sessions := session.NewStore(rdb, session.Options{})
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if _, err := sessions.Create(context.Background(), rec, req, u.ID, []string{"pwd"}); err != nil {
			t.Fatal(err)
		}
		if l, _ := sessions.List(t.Context(), u.ID); len(l) != 1 {
			t.Fatalf("want one session before, got %d", len(l))
		}
		var got userView
		json.Unmarshal([]byte(mustCLI(t, "", "users", "disable", "alice@example.com", "--json")), &got)
		if !got.Disabled {
			t.Fatal("not disabled")
		}
		if l, _ := sessions.List(t.Context(), u.ID); len(l) != 0 {
			t.Fatalf("disable must end sessions, %d left", len(l))
		}
		json.Unmarshal([]byte(mustCLI(t, "", "users", "enable", "alice@example.com", "--json")), &got)
		if got.Disabled {
			t.Fatal("not enabled")
		}
	})
	t.Run("case=reset-mfa removes the secret and the backup codes together, or neither", func(t *testing.T) {
		ctx := t.Context()
		st, err := postgres.New(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.SetTOTP(ctx, u.ID, []byte("sealed secret"), [][]byte{[]byte("h1"), []byte("h2")}, storage.Effects{}); err != nil {
			t.Fatal(err)
		}
		state := func() (on bool, codes, resets int) {
			t.Helper()
			got, err := st.GetUser(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if codes, err = st.CountBackupCodes(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			events, err := st.ListAudit(ctx, u.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events {
				if e.Kind == "mfa_reset" {
					resets++
				}
			}
			return got.TOTPEnabled(), codes, resets
		}
		// The database refuses to delete backup codes: the reset fails as
		// a whole, rather than turning TOTP off and keeping the codes.
		if _, err := st.Pool().Exec(ctx, `CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
			CREATE TRIGGER refuse_delete BEFORE DELETE ON backup_codes FOR EACH ROW EXECUTE FUNCTION refuse_delete()`); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cli(t, "", "users", "reset-mfa", "alice@example.com"); err == nil {
			t.Fatal("reset-mfa succeeded although the backup codes could not be deleted")
		}
		if on, codes, resets := state(); !on || codes != 2 || resets != 0 {
			t.Fatalf("failed reset left TOTP on %t, %d backup codes, %d mfa_reset events; want it untouched", on, codes, resets)
		}
		if _, err := st.Pool().Exec(ctx, `DROP TRIGGER refuse_delete ON backup_codes`); err != nil {
			t.Fatal(err)
		}
		out := mustCLI(t, "", "users", "reset-mfa", "alice@example.com")
		if !strings.Contains(out, "reset two-factor") {
			t.Fatalf("got %q", out)
		}
		if on, codes, resets := state(); on || codes != 0 || resets != 1 {
			t.Fatalf("after reset: TOTP on %t, %d backup codes, %d mfa_reset events", on, codes, resets)
		}
	})
}

func TestCLIKeysAndMigrate(t *testing.T) {
	cliEnvFor(t)
	if out := mustCLI(t, "", "migrate"); !strings.Contains(out, "migrations applied") {
		t.Fatalf("migrate: %q", out)
	}
	mustCLI(t, "", "migrate") // idempotent
	var before []map[string]any
	json.Unmarshal([]byte(mustCLI(t, "", "keys", "rotate", "--json")), &before)
	// By default ID tokens are signed with RS256 and access tokens with
	// ES256: a key for each.
	if len(before) != 2 || !slices.ContainsFunc(before, hasAlg("RS256")) || !slices.ContainsFunc(before, hasAlg("ES256")) {
		t.Fatalf("rotate on an empty store creates an RS256 and an ES256 key, got %v", before)
	}
	mustCLI(t, "", "keys", "rotate")
	var after []map[string]any
	json.Unmarshal([]byte(mustCLI(t, "", "keys", "list", "--json")), &after)
	if len(after) != 4 {
		t.Fatalf("want 4 keys after a second rotation, got %v", after)
	}
	if out := mustCLI(t, "", "keys", "list"); !strings.Contains(out, "KID") {
		t.Fatalf("table: %q", out)
	}
}

// hasAlg matches a key of `latch keys ... --json` by its algorithm.
func hasAlg(alg string) func(map[string]any) bool {
	return func(k map[string]any) bool { return k["alg"] == alg }
}

func TestCLIErrors(t *testing.T) {
	t.Setenv("LATCH_DATABASE_URL", "")
	for _, tc := range []struct {
		args  []string
		want  string
		usage bool
	}{
		{nil, "no command", true},
		{[]string{"frobnicate"}, "unknown command", true},
		{[]string{"clients"}, "needs a command", true},
		{[]string{"clients", "list"}, "LATCH_DATABASE_URL", false},
		{[]string{"migrate"}, "LATCH_DATABASE_URL", false},
		{[]string{"users", "list"}, "LATCH_DATABASE_URL", false},
	} {
		_, _, err := cli(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, errUsage) != tc.usage {
			t.Errorf("latch %v: want error containing %q (usage error: %t), got %v", tc.args, tc.want, tc.usage, err)
		}
	}
}

func TestServeConfigErrors(t *testing.T) {
	t.Setenv("LATCH_DATABASE_URL", "")
	t.Setenv("LATCH_REDIS_URL", "")
	t.Setenv("LATCH_SECRET", "")
	t.Setenv("LATCH_ACCESS_TOKEN_TTL", "fifteen")
	t.Setenv("LATCH_REFRESH_REUSE_REVOKES", "everything")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"serve", "--issuer", "http://id.example.com"}, nil, &out, &errOut)
	if err == nil {
		t.Fatal("serve must refuse this configuration")
	}
	for _, want := range []string{"LATCH_ACCESS_TOKEN_TTL", "LATCH_REFRESH_REUSE_REVOKES", "LATCH_ISSUER", "LATCH_DATABASE_URL", "LATCH_REDIS_URL", "LATCH_SECRET"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error must name %s:\n%v", want, err)
		}
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "LATCH_") {
			t.Errorf("each problem is one line naming its variable, got %q", line)
		}
	}
	t.Setenv("LATCH_SECRET", "too-short")
	err = run(ctx, []string{"serve", "--dev"}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "LATCH_SECRET") || strings.Contains(err.Error(), "too-short") {
		t.Fatalf("a short secret is refused without echoing it, got %v", err)
	}
}

func TestServeHelpListsEverySetting(t *testing.T) {
	out := mustCLI(t, "", "serve", "--help")
	for _, env := range []string{"LATCH_ISSUER", "LATCH_LISTEN", "LATCH_DATABASE_URL", "LATCH_REDIS_URL", "LATCH_SECRET", "LATCH_CORS_ORIGINS",
		"LATCH_ACCESS_TOKEN_TTL", "LATCH_REFRESH_TOKEN_TTL", "LATCH_ID_TOKEN_TTL", "LATCH_REFRESH_GRACE_PERIOD", "LATCH_REFRESH_REUSE_REVOKES",
		"LATCH_DEVICE_CODE_TTL", "LATCH_DPOP_PROOF_WINDOW", "LATCH_DPOP_NONCE", "LATCH_KEY_ROTATION", "LATCH_ID_TOKEN_ALG", "LATCH_ACCESS_TOKEN_ALG", "LATCH_HIBP_URL", "LATCH_HIBP", "LATCH_HIBP_FAIL",
		"LATCH_SMTP_URL", "LATCH_SMTP_FROM", "LATCH_ADMIN_EMAIL", "LATCH_ADMIN_PASSWORD", "LATCH_REGISTRATION"} {
		if !strings.Contains(out, "env "+env+")") {
			t.Errorf("--help does not list %s", env)
		}
	}
	if !strings.Contains(out, "(default 15m)") {
		t.Error("--help shows defaults")
	}
}
