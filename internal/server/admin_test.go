package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// The admin API tests: who may call it, and each resource it manages.
// Every answer is also checked against the OpenAPI document (adminSuite.do).

func TestAdminAPIWhoMayCall(t *testing.T) {
	a := startAdmin(t, nil)
	s := a.s
	get := func(token string) adminAnswer {
		return a.do(t, adminCall{method: http.MethodGet, path: "/admin/users", token: token})
	}
	t.Run("case=an administrator and a machine client with latch:admin", func(t *testing.T) {
		get(a.token).want(t, http.StatusOK)
		get(a.machine).want(t, http.StatusOK)
	})
	t.Run("case=no token is 401 with a Bearer challenge naming the metadata", func(t *testing.T) {
		ans := get("").want(t, http.StatusUnauthorized)
		if ch := ans.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `resource_metadata="`+s.URL+`/.well-known/oauth-protected-resource/admin"`) {
			t.Fatalf("challenge %q", ch)
		}
		status, doc := s.doJSON(t, s.request(t, http.MethodGet, "/.well-known/oauth-protected-resource/admin", nil))
		if status != http.StatusOK || claim(doc, "resource") != s.URL+"/admin" {
			t.Fatalf("admin API metadata: %s", describe(status, doc))
		}
	})
	t.Run("case=a user who is no administrator gets no admin token", func(t *testing.T) {
		get(a.userToken(t, s.user(t, storage.RoleUser))).want(t, http.StatusForbidden)
	})
	t.Run("case=a token for another API is refused", func(t *testing.T) {
		get(ccToken(t, s.rs, "api:read")).want(t, http.StatusUnauthorized)
	})
	t.Run("case=a token outlives no revocation of rights", func(t *testing.T) {
		for _, demote := range []func(id string){
			func(id string) { a.as(t, http.MethodPost, "/admin/users/"+id+"/disable", nil).want(t, http.StatusOK) },
			func(id string) { a.patchUser(t, id, map[string]any{"role": "user"}).want(t, http.StatusOK) },
		} {
			other := s.user(t, storage.RoleAdmin)
			token := a.userToken(t, other)
			get(token).want(t, http.StatusOK)
			demote(other.ID)
			get(token).want(t, http.StatusForbidden)
		}
	})
}

// patchUser changes a user with the ETag just read.
func (a *adminSuite) patchUser(t *testing.T, id string, patch map[string]any) adminAnswer {
	t.Helper()
	etag := a.as(t, http.MethodGet, "/admin/users/"+id, nil).want(t, http.StatusOK).header.Get("ETag")
	return a.do(t, adminCall{method: http.MethodPatch, path: "/admin/users/" + id, token: a.token, ifMatch: etag, body: patch})
}

func TestAdminAPIClients(t *testing.T) {
	a := startAdmin(t, nil)
	meta := map[string]any{"client_name": "Billing", "grant_types": []string{"client_credentials"}, "scope": "api:read", "token_endpoint_auth_method": "client_secret_basic"}
	created := a.as(t, http.MethodPost, "/admin/clients", meta).want(t, http.StatusCreated)
	id, secret := claim(created.body, "client_id"), claim(created.body, "client_secret")
	path := "/admin/clients/" + id
	t.Run("case=the secret is shown once and works", func(t *testing.T) {
		if len(secret) < 40 || claim(a.as(t, http.MethodGet, path, nil).body, "client_secret") != "" {
			t.Fatal("secret not shown once")
		}
		c, _ := a.s.store.GetClient(t.Context(), id)
		ccToken(t, a.s.relyingParty(c, secret), "api:read")
	})
	t.Run("case=updates need the current ETag", func(t *testing.T) {
		etag := a.as(t, http.MethodGet, path, nil).header.Get("ETag")
		meta["client_name"] = "Billing v2"
		a.do(t, adminCall{method: http.MethodPut, path: path, token: a.token, body: meta}).want(t, http.StatusPreconditionRequired)
		a.do(t, adminCall{method: http.MethodPut, path: path, token: a.token, ifMatch: `"stale"`, body: meta}).want(t, http.StatusPreconditionFailed)
		up := a.do(t, adminCall{method: http.MethodPut, path: path, token: a.token, ifMatch: etag, body: meta}).want(t, http.StatusOK)
		if claim(up.body, "client_name") != "Billing v2" || up.header.Get("ETag") == etag {
			t.Fatalf("update: %v", up.body)
		}
		a.do(t, adminCall{method: http.MethodPut, path: path, token: a.token, ifMatch: etag, body: meta}).want(t, http.StatusPreconditionFailed)
	})
	t.Run("case=rotating the secret retires the old one", func(t *testing.T) {
		fresh := claim(a.as(t, http.MethodPost, path+"/rotate-secret", nil).want(t, http.StatusOK).body, "client_secret")
		c, _ := a.s.store.GetClient(t.Context(), id)
		if status, _ := a.s.relyingParty(c, secret).tokenRequest(t, url.Values{"grant_type": {"client_credentials"}}); status != http.StatusUnauthorized {
			t.Fatalf("the old secret still works: %d", status)
		}
		ccToken(t, a.s.relyingParty(c, fresh), "api:read")
	})
	t.Run("case=list, delete, and the audit names the administrator", func(t *testing.T) {
		if len(items(a.as(t, http.MethodGet, "/admin/clients?limit=200", nil))) < 3 {
			t.Fatal("list lacks clients")
		}
		a.as(t, http.MethodDelete, path, nil).want(t, http.StatusNoContent)
		a.as(t, http.MethodGet, path, nil).want(t, http.StatusNotFound)
		events := items(a.as(t, http.MethodGet, "/admin/audit?type=client_deleted&client="+id, nil).want(t, http.StatusOK))
		if len(events) != 1 || asMap(events[0]["detail"])["by"] != "user:"+a.admin.ID {
			t.Fatalf("audit: %v", events)
		}
	})
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func TestAdminAPIResources(t *testing.T) {
	a := startAdmin(t, nil)
	res := map[string]any{"resource": "https://billing.example.com/v1", "name": "Billing", "scopes": []string{"billing:read"}}
	a.as(t, http.MethodPost, "/admin/resources", res).want(t, http.StatusCreated)
	path := "/admin/resources/" + url.PathEscape("https://billing.example.com/v1")
	t.Run("case=addressed by the encoded identifier", func(t *testing.T) {
		got := a.as(t, http.MethodGet, path, nil).want(t, http.StatusOK)
		res["name"] = "Billing API"
		up := a.do(t, adminCall{method: http.MethodPut, path: path, token: a.token, ifMatch: got.header.Get("ETag"), body: res}).want(t, http.StatusOK)
		mustEqual(t, "name", claim(up.body, "name"), "Billing API")
	})
	t.Run("case=a new resource is usable at once", func(t *testing.T) {
		svc := a.s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "billing:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
		aud, _ := accessClaims(t, a.s, ccToken(t, svc, "billing:read"))
		mustEqualSlice(t, "aud", aud, []string{"https://billing.example.com/v1"})
	})
	t.Run("case=refusals", func(t *testing.T) {
		a.as(t, http.MethodPost, "/admin/resources", res).want(t, http.StatusConflict)
		a.as(t, http.MethodPost, "/admin/resources", map[string]any{"resource": a.s.URL + "/admin", "scopes": []string{"x"}}).want(t, http.StatusBadRequest)
		a.as(t, http.MethodPost, "/admin/resources", map[string]any{"resource": "http://evil.example", "scopes": []string{"x"}}).want(t, http.StatusBadRequest)
	})
	t.Run("case=delete", func(t *testing.T) {
		a.as(t, http.MethodDelete, path, nil).want(t, http.StatusNoContent)
		a.as(t, http.MethodDelete, path, nil).want(t, http.StatusNotFound)
	})
}
