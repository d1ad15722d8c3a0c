package examples_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/latch-idp/latch/storage"
)

// TestAPI checks the API's guards with the tokens the SPA gets in
// Chromium, and what it serves to anyone: its RFC 9728 metadata and CORS
// for the SPA's origin only.
func TestAPI(t *testing.T) {
	d := startDemo(t)
	t.Run("case=the admin route refuses a user with 403", func(t *testing.T) {
		tab := d.newTab(t)
		d.spaSignIn(t, tab, `#signin`, d.latch.User(t, storage.RoleUser).Email)
		if status, answer := callAPI(t, tab, `#call-admin`, "GET /admin"); status != "403" || !strings.Contains(answer, "forbidden") {
			t.Errorf("GET /admin as a user: %s\n%s", status, answer)
		}
	})
	t.Run("case=the admin route serves an admin", func(t *testing.T) {
		admin := d.latch.User(t, storage.RoleAdmin)
		tab := d.newTab(t)
		d.spaSignIn(t, tab, `#signin`, admin.Email)
		if status, answer := callAPI(t, tab, `#call-admin`, "GET /admin"); status != "200" || !strings.Contains(answer, admin.ID) {
			t.Errorf("GET /admin as an admin: %s\n%s", status, answer)
		}
	})
	t.Run("case=the scope route refuses a token without api:write", func(t *testing.T) {
		tab := d.newTab(t)
		d.spaSignIn(t, tab, `#signin-readonly`, d.latch.User(t, storage.RoleUser).Email)
		if status, answer := callAPI(t, tab, `#call-write`, "POST /notes"); status != "403" || !strings.Contains(answer, `error="insufficient_scope"`) {
			t.Errorf("POST /notes without api:write: %s\n%s", status, answer)
		}
	})
	t.Run("case=the scope route takes a token with api:write", func(t *testing.T) {
		u := d.latch.User(t, storage.RoleUser)
		tab := d.newTab(t)
		d.spaSignIn(t, tab, `#signin`, u.Email)
		if status, answer := callAPI(t, tab, `#call-write`, "POST /notes"); status != "201" || !strings.Contains(answer, u.ID) {
			t.Errorf("POST /notes with api:write: %s\n%s", status, answer)
		}
	})
	t.Run("case=the API serves its RFC 9728 metadata, naming latch", func(t *testing.T) { apiMetadata(t, d) })
	t.Run("case=CORS lets the SPA's origin call the API, and no other", func(t *testing.T) { apiCORS(t, d) })
}

func apiMetadata(t *testing.T, d *demo) {
	resp, err := http.Get(d.api + "/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := `resource_metadata="` + d.api + `/.well-known/oauth-protected-resource"`
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), want) {
		t.Errorf("GET /me without a token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp, err = http.Get(d.api + "/.well-known/oauth-protected-resource")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Resource string   `json:"resource"`
		Servers  []string `json:"authorization_servers"`
		Scopes   []string `json:"scopes_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %d %v", resp.StatusCode, err)
	}
	if m.Resource != d.api || len(m.Servers) != 1 || m.Servers[0] != d.latch.URL || strings.Join(m.Scopes, " ") != "api:read api:write" {
		t.Errorf("metadata: %+v", m)
	}
}

func apiCORS(t *testing.T, d *demo) {
	for origin, allowed := range map[string]bool{d.spa: true, "http://elsewhere.example": false} {
		req, _ := http.NewRequest(http.MethodOptions, d.api+"/notes", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if allowed && (got != origin || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization")) {
			t.Errorf("preflight from %s: allow-origin %q, allow-headers %q", origin, got, resp.Header.Get("Access-Control-Allow-Headers"))
		}
		if !allowed && got != "" {
			t.Errorf("preflight from %s allowed: %q", origin, got)
		}
	}
}
