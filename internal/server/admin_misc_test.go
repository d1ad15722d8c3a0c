package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/registration"
)

func TestAdminAPIKeysAndAudit(t *testing.T) {
	a := startAdmin(t, nil)
	before := len(items(a.as(t, http.MethodGet, "/admin/keys", nil).want(t, http.StatusOK)))
	after := items(a.as(t, http.MethodPost, "/admin/keys/rotate", nil).want(t, http.StatusOK))
	if want := before + len(keys.Algorithms()); len(after) != want { // a key of each algorithm
		t.Fatalf("%d keys after a rotation, want %d", len(after), want)
	}
	t.Run("case=audit filters and pages", func(t *testing.T) {
		since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		rotated := items(a.as(t, http.MethodGet, "/admin/audit?type=keys_rotated&since="+since, nil).want(t, http.StatusOK))
		if len(rotated) != 1 || asMap(rotated[0]["detail"])["by"] != "user:"+a.admin.ID {
			t.Fatalf("keys_rotated events: %v", rotated)
		}
		first := a.as(t, http.MethodGet, "/admin/audit?limit=1", nil).want(t, http.StatusOK)
		cursor := claim(first.body, "next_cursor")
		second := items(a.as(t, http.MethodGet, "/admin/audit?limit=1&cursor="+cursor, nil).want(t, http.StatusOK))
		if cursor == "" || len(second) != 1 || second[0]["id"] == items(first)[0]["id"] {
			t.Fatalf("second page: %v after %v", second, first.body)
		}
		for _, bad := range []string{"since=yesterday", "cursor=x", "limit=1000"} {
			a.as(t, http.MethodGet, "/admin/audit?"+bad, nil).want(t, http.StatusBadRequest)
		}
	})
}

func TestAdminAPIRegistrationTokens(t *testing.T) {
	a := startAdmin(t, func(c *Config) { c.ClientRegistration = registration.Token })
	made := a.as(t, http.MethodPost, "/admin/registration-tokens", map[string]any{"expires_in": "1h", "max_uses": 1}).want(t, http.StatusCreated)
	token := claim(made.body, "token")
	a.s.register(t, token, publicApp())
	listed := items(a.as(t, http.MethodGet, "/admin/registration-tokens", nil).want(t, http.StatusOK))
	if len(listed) != 1 || listed[0]["uses"] != float64(1) || claim(listed[0], "token") != "" {
		t.Fatalf("listed: %v", listed)
	}
	a.as(t, http.MethodDelete, "/admin/registration-tokens/"+claim(made.body, "id"), nil).want(t, http.StatusNoContent)
	a.as(t, http.MethodDelete, "/admin/registration-tokens/"+claim(made.body, "id"), nil).want(t, http.StatusNotFound)
	a.as(t, http.MethodPost, "/admin/registration-tokens", map[string]any{"expires_in": "forever"}).want(t, http.StatusBadRequest)
}

// TestAttackAdminAPIInput sends what a careless or hostile caller might:
// each is a clear JSON error of the documented shape, never a 500.
func TestAttackAdminAPIInput(t *testing.T) {
	a := startAdmin(t, nil)
	for name, c := range map[string]adminCall{
		"unknown field":          {method: http.MethodPost, path: "/admin/users", body: map[string]any{"email": "x@example.com", "password": "long enough password 42", "is_admin": true}},
		"wrong type":             {method: http.MethodPost, path: "/admin/users", body: map[string]any{"email": 42}},
		"not JSON":               {method: http.MethodPost, path: "/admin/clients", body: []byte(`{"client_name":`)},
		"two JSON values":        {method: http.MethodPost, path: "/admin/resources", body: []byte(`{} {}`)},
		"bad client metadata":    {method: http.MethodPost, path: "/admin/clients", body: map[string]any{"redirect_uris": []string{"http://evil.example/cb"}}},
		"huge body":              {method: http.MethodPost, path: "/admin/clients", body: []byte(`{"client_name":"` + strings.Repeat("a", 300<<10) + `"}`)},
		"patch without If-Match": {method: http.MethodPatch, path: "/admin/users/" + a.admin.ID, body: map[string]any{"name": "x"}},
	} {
		t.Run("case="+name, func(t *testing.T) {
			c.token = a.token
			ans := a.do(t, c)
			if ans.status < 400 || ans.status >= 500 || claim(ans.body, "error") == "" {
				t.Fatalf("%d %v", ans.status, ans.body)
			}
		})
	}
	t.Run("case=an ID token or a refresh token is no admin token", func(t *testing.T) {
		tok := a.console.login(t, a.s.browser(), a.admin, []string{"openid", "latch:admin"}, nil)
		for _, bearer := range []string{tok.RawIDToken, tok.RefreshToken} {
			a.do(t, adminCall{method: http.MethodGet, path: "/admin/users", token: bearer}).want(t, http.StatusUnauthorized)
		}
	})
}

// TestAdminAPIOpenAPIDocument pins that every documented operation exists
// and answers what the document says: each is called with its success
// status by the admin tests, whose answers are checked against it.
func TestAdminAPIOpenAPIDocument(t *testing.T) {
	a := startAdmin(t, func(c *Config) { c.ClientRegistration = registration.Token })
	for tmpl, ops := range a.doc.Paths {
		for method := range ops {
			path := strings.ReplaceAll(tmpl, "{id}", "no-such-id")
			ans := a.do(t, adminCall{method: strings.ToUpper(method), path: path, token: a.token, ifMatch: `"x"`, body: map[string]any{}})
			if ans.status == http.StatusMethodNotAllowed || ans.status == http.StatusUnauthorized {
				t.Errorf("%s %s: %d", method, tmpl, ans.status)
			}
		}
	}
	if len(a.doc.Paths) < 10 {
		t.Fatalf("the document lists %d paths", len(a.doc.Paths))
	}
}
