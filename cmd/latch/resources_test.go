package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latch-idp/latch/resources"
)

const apiJSON = `{"resource": "https://api.example.com", "name": "Example API", "scopes": ["api:read", "api:write"], "access_token_ttl": "10m"}`

func TestCLIResourcesCreate(t *testing.T) {
	cliEnvFor(t)
	t.Run("case=create from stdin prints the resource back", func(t *testing.T) {
		var got resources.Metadata
		if err := json.Unmarshal([]byte(mustCLI(t, apiJSON, "resources", "create")), &got); err != nil {
			t.Fatal(err)
		}
		if got.Resource != "https://api.example.com" || got.Name != "Example API" || got.AccessTokenTTL != "10m0s" ||
			strings.Join(got.Scopes, " ") != "api:read api:write" || got.CreatedAt == 0 {
			t.Fatalf("created = %+v", got)
		}
	})
	t.Run("case=create from a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "mcp.json")
		os.WriteFile(f, []byte(`{"resource": "http://127.0.0.1:3000/mcp", "scopes": ["mcp:tools"]}`), 0o600)
		var got resources.Metadata
		json.Unmarshal([]byte(mustCLI(t, "", "resources", "create", "-f", f)), &got)
		if got.Resource != "http://127.0.0.1:3000/mcp" || got.AccessTokenTTL != "" {
			t.Fatalf("created = %+v", got)
		}
	})
	for name, tc := range map[string]struct{ in, want string }{
		"a taken scope":           {`{"resource": "https://other.example.com", "scopes": ["api:read"]}`, "owns one of its scopes"},
		"the same identifier":     {apiJSON, "exists already"},
		"an identifier fragment":  {`{"resource": "https://x.example.com/#a", "scopes": ["x"]}`, "fragment"},
		"plain http off loopback": {`{"resource": "http://x.example.com", "scopes": ["x"]}`, "loopback"},
		"a reserved scope":        {`{"resource": "https://x.example.com", "scopes": ["openid"]}`, "reserved"},
		"no scope":                {`{"resource": "https://x.example.com", "scopes": []}`, "at least one scope"},
		"a bad lifetime":          {`{"resource": "https://x.example.com", "scopes": ["x"], "access_token_ttl": "1s"}`, "access_token_ttl"},
		"an unknown field":        {`{"resource": "https://x.example.com", "scopes": ["x"], "audience": "y"}`, "not valid JSON"},
	} {
		t.Run("case=refuses "+name, func(t *testing.T) {
			_, _, err := cli(t, tc.in, "resources", "create")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestCLIResourcesManage(t *testing.T) {
	cliEnvFor(t)
	mustCLI(t, apiJSON, "resources", "create")
	t.Run("case=list as a table and as JSON", func(t *testing.T) {
		if out := mustCLI(t, "", "resources", "list"); !strings.Contains(out, "https://api.example.com") || !strings.Contains(out, "10m0s") {
			t.Fatalf("table: %q", out)
		}
		var all []resources.Metadata
		json.Unmarshal([]byte(mustCLI(t, "", "resources", "list", "--json")), &all)
		if len(all) != 1 || all[0].Resource != "https://api.example.com" {
			t.Fatalf("list = %+v", all)
		}
	})
	t.Run("case=get and delete, then both refuse", func(t *testing.T) {
		var got resources.Metadata
		json.Unmarshal([]byte(mustCLI(t, "", "resources", "get", "https://api.example.com")), &got)
		if got.Name != "Example API" {
			t.Fatalf("get = %+v", got)
		}
		if out := mustCLI(t, "", "resources", "delete", "https://api.example.com"); !strings.Contains(out, "deleted") {
			t.Fatalf("delete: %q", out)
		}
		for _, sub := range []string{"get", "delete"} {
			if _, _, err := cli(t, "", "resources", sub, "https://api.example.com"); err == nil || !strings.Contains(err.Error(), "no resource") {
				t.Fatalf("%s after delete: %v", sub, err)
			}
		}
	})
	t.Run("case=usage errors", func(t *testing.T) {
		for _, args := range [][]string{{"resources"}, {"resources", "get"}, {"resources", "frob"}, {"resources", "list", "extra"}} {
			if _, _, err := cli(t, "", args...); !errors.Is(err, errUsage) {
				t.Errorf("latch %v: %v", args, err)
			}
		}
	})
}
