package resources

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
)

func testIndex() *Index {
	return NewIndex([]storage.Resource{
		{ID: "https://a.example", Name: "A", Scopes: []string{"a:read", "a:write"}, AccessTokenTTL: time.Minute},
		{ID: "https://b.example", Scopes: []string{"b:read"}, AccessTokenTTL: 30 * time.Second},
	})
}

func wantCode(t *testing.T, err error, code string, unknown bool) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code || Unknown(err) != unknown {
		t.Fatalf("error %v, want %s (unknown=%t)", err, code, unknown)
	}
}

func TestGrant(t *testing.T) {
	x := testIndex()
	client := []string{"openid", "a:read", "b:read"}
	t.Run("case=inferred from scopes in their order", func(t *testing.T) {
		got, err := x.Grant(nil, []string{"openid", "b:read", "a:read"}, client)
		if err != nil || !slices.Equal(got, []string{"https://b.example", "https://a.example"}) {
			t.Fatalf("Grant = %v, %v", got, err)
		}
	})
	t.Run("case=requested, once each, even without their scopes", func(t *testing.T) {
		got, err := x.Grant([]string{"https://a.example", "https://a.example"}, []string{"openid"}, client)
		if err != nil || !slices.Equal(got, []string{"https://a.example"}) {
			t.Fatalf("Grant = %v, %v", got, err)
		}
	})
	t.Run("case=refusals", func(t *testing.T) {
		_, err := x.Grant([]string{"https://c.example"}, nil, client)
		wantCode(t, err, CodeInvalidTarget, true)
		_, err = x.Grant(nil, []string{"c:read"}, client)
		wantCode(t, err, CodeInvalidScope, true)
		_, err = x.Grant([]string{"https://a.example"}, []string{"b:read"}, client)
		wantCode(t, err, CodeInvalidScope, false)
		_, err = x.Grant([]string{"https://a.example"}, nil, []string{"openid", "b:read"})
		wantCode(t, err, CodeInvalidTarget, false)
		_, err = x.Grant([]string{"https://a.example#f"}, nil, client)
		wantCode(t, err, CodeInvalidTarget, false)
	})
}

func TestNarrowAndTokenScopes(t *testing.T) {
	x := testIndex()
	grant := []string{"https://a.example", "https://b.example", "https://deleted.example"}
	client := []string{"a:read", "b:read"}
	all, err := x.Narrow(grant, nil, client)
	if err != nil || !slices.Equal(all, []string{"https://a.example", "https://b.example"}) {
		t.Fatalf("Narrow without a request = %v, %v; want the grant without the deleted resource", all, err)
	}
	one, err := x.Narrow(grant, []string{"https://b.example"}, client)
	if err != nil || !slices.Equal(one, []string{"https://b.example"}) {
		t.Fatalf("Narrow to b = %v, %v", one, err)
	}
	_, err = x.Narrow(grant[:1], []string{"https://b.example"}, client)
	wantCode(t, err, CodeInvalidTarget, false)
	scopes := x.TokenScopes([]string{"openid", "offline_access", "a:read", "b:read", "gone:read"}, one)
	if !slices.Equal(scopes, []string{"openid", "offline_access", "b:read"}) {
		t.Fatalf("TokenScopes = %v", scopes)
	}
	if ttl := x.AccessTokenTTL(all); ttl != 30*time.Second {
		t.Fatalf("AccessTokenTTL = %v, want the shortest", ttl)
	}
	if names := x.Names([]string{"https://a.example", "https://b.example"}); !slices.Equal(names, []string{"A", "https://b.example"}) {
		t.Fatalf("Names = %v", names)
	}
}

func TestValidate(t *testing.T) {
	ok := []string{"https://api.example.com", "https://api.example.com/v1", "http://localhost:3000/mcp", "http://127.0.0.1", "http://[::1]:8080"}
	for _, id := range ok {
		if err := CheckIdentifier(id); err != nil {
			t.Errorf("CheckIdentifier(%q) = %v", id, err)
		}
	}
	bad := []string{"", "api", "/relative", "https://", "https://a.example/#", "https://a.example/?q=1", "https://u:p@a.example",
		"http://a.example", "ftp://a.example", "urn:example:api", "https://" + strings.Repeat("a", 2000) + ".example"}
	for _, id := range bad {
		if err := CheckIdentifier(id); err == nil {
			t.Errorf("CheckIdentifier(%q) accepted", id)
		}
	}
	m := Metadata{Resource: "https://a.example", Scopes: []string{"a b", `a"b`, "openid", AdminScope, "x", "x"}, AccessTokenTTL: "48h"}
	_, err := Validate(&m)
	for _, want := range []string{`"a b"`, `"a\"b"`, `"openid" is reserved`, `"latch:admin" is reserved`, `"x" is listed twice`, "access_token_ttl"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v, want it to mention %s", err, want)
		}
	}
}

func TestIntrospectionClientsAreValidated(t *testing.T) {
	for name, ids := range map[string][]string{
		"empty":      {""},
		"a URL":      {"https://app.example.com/client"},
		"with space": {"a b"},
		"twice":      {"gw", "gw"},
	} {
		m := Metadata{Resource: "https://reports.example.com", Scopes: []string{"reports:read"}, IntrospectionClients: ids}
		if _, err := New(m); err == nil {
			t.Errorf("%s: introspection_clients %q accepted", name, ids)
		}
	}
}

func TestIntrospectsOnlyForItsResources(t *testing.T) {
	x := NewIndex([]storage.Resource{{ID: "https://a.example", Scopes: []string{"a:read"}, IntrospectionClients: []string{"gw"}}, {ID: "https://b.example", Scopes: []string{"b:read"}}})
	if !x.Introspects("gw", []string{"https://b.example", "https://a.example"}) {
		t.Error("gw may not introspect a token for its resource")
	}
	if x.Introspects("gw", []string{"https://b.example"}) || x.Introspects("other", []string{"https://a.example"}) || x.Introspects("gw", nil) {
		t.Error("an introspection client reaches beyond its resource")
	}
}
