package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/storage"
)

// The admin console's tests over HTTP: who gets in, and each page's forms.
// console_browser_test.go drives it in Chromium.

// consoleSignIn signs u in at /admin and returns the browser on the
// console's home page.
func consoleSignIn(t *testing.T, s *testServer, u storage.User, totpSecret string) *browser {
	t.Helper()
	b := s.browser()
	res := b.authorize(t, s.URL+"/admin", flowSteps{Email: u.Email, Password: testPassword, TOTPSecret: totpSecret})
	if res.Last.Status != http.StatusOK || res.Last.URL.Path != "/admin" || !strings.Contains(res.Last.Body, "Admin console") {
		t.Fatalf("console after sign-in: %s %d\n%s", res.Last.URL, res.Last.Status, res.Last.Body)
	}
	return b
}

// consolePost submits the console form at page that posts to action,
// with values.
func consolePost(t *testing.T, b *browser, page, action string, values url.Values) *page {
	t.Helper()
	p := b.get(t, b.s.URL+page)
	for _, f := range p.forms(t) {
		if f.Action.Path == action {
			values.Set("csrf_token", f.Fields.Get("csrf_token"))
			return b.post(t, f.Action.String(), values)
		}
	}
	t.Fatalf("%s has no form posting to %s:\n%s", page, action, p.Body)
	return nil
}

func TestConsoleWhoGetsIn(t *testing.T) {
	s := startServer(t, nil)
	t.Run("case=an administrator signs in through latch", func(t *testing.T) {
		consoleSignIn(t, s, s.user(t, storage.RoleAdmin), "")
	})
	t.Run("case=a user is refused", func(t *testing.T) {
		b := s.browser()
		res := b.authorize(t, s.URL+"/admin", flowSteps{Email: s.user(t, storage.RoleUser).Email, Password: testPassword})
		if res.Last.Status != http.StatusForbidden {
			t.Fatalf("a user at the console: %d", res.Last.Status)
		}
	})
	t.Run("case=an administrator with a second factor must have used it", func(t *testing.T) {
		admin := s.user(t, storage.RoleAdmin)
		b := consoleSignIn(t, s, admin, "")
		secret := s.enableTOTP(t, admin.ID)
		p := b.get(t, s.URL+"/admin/ui/users")
		if p.Location == nil || p.Location.Query().Get("reauth") != "1" {
			t.Fatalf("a session without the second factor: %d %v", p.Status, p.Location)
		}
		res := b.authorize(t, p.Location.String(), flowSteps{Email: admin.Email, Password: testPassword, TOTPSecret: secret})
		if res.Last.Status != http.StatusOK || res.Last.URL.Path != "/admin/ui/users" {
			t.Fatalf("after a fresh sign-in: %s %d", res.Last.URL, res.Last.Status)
		}
	})
	t.Run("case=forms need the CSRF token", func(t *testing.T) {
		b := consoleSignIn(t, s, s.user(t, storage.RoleAdmin), "")
		if p := b.post(t, s.URL+"/admin/ui/keys/rotate", url.Values{}); p.Status != http.StatusForbidden {
			t.Fatalf("a post without the token: %d", p.Status)
		}
	})
}

func TestConsoleClients(t *testing.T) {
	s := startServer(t, nil)
	admin := s.user(t, storage.RoleAdmin)
	b := consoleSignIn(t, s, admin, "")
	p := consolePost(t, b, "/admin/ui/clients", "/admin/ui/clients", url.Values{
		"client_name": {"Console app"}, "redirect_uris": {"https://console-app.example.com/cb\nhttp://127.0.0.1:8000/cb"},
		"grant_types": {"authorization_code", "refresh_token"}, "token_endpoint_auth_method": {"client_secret_basic"}, "scope": {"openid email"},
		"backchannel_logout_uri": {"https://console-app.example.com/logout"},
	})
	secret := between(p.Body, "<output data-client-secret>", "</output>")
	id := between(p.Body, "<code data-client-id>", "</code>")
	if p.Status != http.StatusOK || len(secret) < 40 || id == "" {
		t.Fatalf("created: %d\n%s", p.Status, p.Body)
	}
	if c, _ := s.store.GetClient(t.Context(), id); c.BackchannelLogoutURI != "https://console-app.example.com/logout" || !c.BackchannelLogoutSessionRequired {
		t.Errorf("back-channel logout: %q, session required %t", c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired)
	}
	t.Run("case=the secret works, and a new one retires it", func(t *testing.T) {
		c, _ := s.store.GetClient(t.Context(), id)
		if !s.box.Verify("client-secret", []byte(secret), c.SecretHash) {
			t.Fatal("the shown secret is not the client's")
		}
		p := consolePost(t, b, "/admin/ui/clients/"+id, "/admin/ui/clients/"+id+"/rotate-secret", url.Values{})
		fresh := between(p.Body, "<output data-client-secret>", "</output>")
		c, _ = s.store.GetClient(t.Context(), id)
		if fresh == secret || !s.box.Verify("client-secret", []byte(fresh), c.SecretHash) {
			t.Fatal("rotation did not give the client the new secret")
		}
	})
	t.Run("case=a bad form says what is wrong", func(t *testing.T) {
		p := consolePost(t, b, "/admin/ui/clients", "/admin/ui/clients", url.Values{"redirect_uris": {"http://evil.example/cb"}, "grant_types": {"authorization_code"}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `role="alert"`) || !strings.Contains(p.Body, "loopback") {
			t.Fatalf("%d\n%s", p.Status, p.Body)
		}
	})
	t.Run("case=the device grant's checkbox is named for people and posts its URN", func(t *testing.T) {
		p := consolePost(t, b, "/admin/ui/clients", "/admin/ui/clients", url.Values{"redirect_uris": {"http://evil.example/cb"}, "grant_types": {"authorization_code"}})
		want := `value="urn:ietf:params:oauth:grant-type:device_code"> device_code (device authorization, RFC 8628)</label>`
		if !strings.Contains(p.Body, want) {
			t.Fatalf("the form lacks %s:\n%s", want, p.Body)
		}
	})
	t.Run("case=delete, and the audit log shows who did it", func(t *testing.T) {
		p := consolePost(t, b, "/admin/ui/clients/"+id, "/admin/ui/clients/"+id+"/delete", url.Values{})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("delete: %d", p.Status)
		}
		audit := b.get(t, s.URL+"/admin/ui/audit?client="+id)
		for _, want := range []string{"client_created", "client_secret_rotated", "client_deleted", "user:" + admin.ID} {
			if !strings.Contains(audit.Body, want) {
				t.Errorf("audit page lacks %s", want)
			}
		}
	})
}

// between returns the text of s between from and to.
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

func TestConsoleUsersResourcesKeys(t *testing.T) {
	s := startServer(t, nil)
	b := consoleSignIn(t, s, s.user(t, storage.RoleAdmin), "")
	u := s.user(t, storage.RoleUser)
	t.Run("case=search, set a role, disable and enable, revoke", func(t *testing.T) {
		if p := b.get(t, s.URL+"/admin/ui/users?q="+url.QueryEscape(u.Email)); !strings.Contains(p.Body, `data-user-id="`+u.ID+`"`) {
			t.Fatalf("search does not find the user:\n%s", p.Body)
		}
		page := "/admin/ui/users/" + u.ID
		// In this order: the page offers "enable" only to a disabled user.
		for _, step := range []struct {
			action string
			form   url.Values
		}{{"role", url.Values{"role": {"admin"}}}, {"disable", url.Values{}}, {"enable", url.Values{}}, {"revoke", url.Values{}}} {
			if p := consolePost(t, b, page, page+"/"+step.action, step.form); p.Status != http.StatusSeeOther {
				t.Fatalf("%s: %d\n%s", step.action, p.Status, p.Body)
			}
		}
		got, _ := s.store.GetUser(t.Context(), u.ID)
		if got.Role != storage.RoleAdmin || got.Disabled {
			t.Fatalf("user after the actions: %+v", got)
		}
	})
	t.Run("case=register and delete an API", func(t *testing.T) {
		p := consolePost(t, b, "/admin/ui/resources", "/admin/ui/resources", url.Values{"resource": {"https://console.example.com/api"}, "name": {"Console API"}, "scopes": {"console:read"}, "introspection_clients": {"gw worker"}})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", p.Status, p.Body)
		}
		if r, err := s.store.GetResource(t.Context(), "https://console.example.com/api"); err != nil || strings.Join(r.IntrospectionClients, " ") != "gw worker" {
			t.Fatalf("stored %+v, %v", r, err)
		}
		consolePost(t, b, "/admin/ui/resources", "/admin/ui/resources/delete", url.Values{"resource": {"https://console.example.com/api"}})
		if _, err := s.store.GetResource(t.Context(), "https://console.example.com/api"); err == nil {
			t.Fatal("not deleted")
		}
	})
	t.Run("case=rotate the keys", func(t *testing.T) {
		before := len(s.keys.List())
		consolePost(t, b, "/admin/ui/keys", "/admin/ui/keys/rotate", url.Values{})
		if after, want := len(s.keys.List()), before+len(keys.Algorithms()); after != want { // a key of each algorithm
			t.Fatalf("%d keys after a rotation, want %d", after, want)
		}
	})
}
