package rs

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
)

func TestChallengesFollowRFC6750(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, nil)
	user := "Bearer " + is.token(t, nil)
	client := "Bearer " + is.clientToken(t, "api:read")
	admin := "Bearer " + is.token(t, func(c map[string]any) { c["role"] = "admin" })
	noToken := `Bearer realm="test", resource_metadata="` + metaURL + `"`
	malformed := `Bearer realm="test", error="invalid_request", error_description="The Authorization header is malformed.", resource_metadata="` + metaURL + `"`
	cases := map[string]struct {
		mw        func(http.Handler) http.Handler
		auth      string
		status    int
		challenge string
	}{
		"no token":                   {v.RequireUser, "", 401, noToken},
		"Basic credentials":          {v.RequireUser, "Basic YTpi", 401, noToken},
		"empty bearer":               {v.RequireUser, "Bearer ", 400, malformed},
		"bearer with spaces":         {v.RequireUser, "Bearer a b", 400, malformed},
		"lower-case scheme":          {v.RequireUser, "bearer " + user[7:], 200, ""},
		"client token at user API":   {v.RequireUser, client, 401, invalidChallenge("The access token has no user; this API serves users.")},
		"user token at client API":   {v.RequireClient, user, 401, invalidChallenge("The access token is a user's; this API serves clients.")},
		"client token at client API": {v.RequireClient, client, 200, ""},
		"user at admin API":          {v.RequireAdmin, user, 403, ""},
		"client at admin API":        {v.RequireAdmin, client, 401, invalidChallenge("The access token has no user; this API serves users.")},
		"admin at admin API":         {v.RequireAdmin, admin, 200, ""},
		"missing scope": {v.RequireScope("api:read", "api:write"), user, 403,
			`Bearer realm="test", error="insufficient_scope", error_description="The access token lacks the scope api:write.", scope="api:read api:write", resource_metadata="` + metaURL + `"`},
		"scope held by a client": {v.RequireScope("api:read"), client, 200, ""},
	}
	for name, tc := range cases {
		t.Run("case="+name, func(t *testing.T) {
			rec := call(t, tc.mw, tc.auth)
			wantStatus(t, rec, tc.status, tc.challenge)
			if tc.status != 200 && rec.Header().Get("Cache-Control") != "no-store" {
				t.Error("a refusal must not be cached")
			}
		})
	}
}

func TestTokenSentTwoWaysIsInvalidRequest(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, nil)
	h := v.RequireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("let through") }))
	tok := is.token(t, nil)
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/x?access_token="+tok, nil),
		httptest.NewRequest(http.MethodGet, "/x", nil),
	} {
		req.Header.Add("Authorization", "Bearer "+tok)
		if req.URL.RawQuery == "" {
			req.Header.Add("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", req.URL, rec.Code)
		}
	}
}

func TestMiddlewareComposesWithOneVerification(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, nil)
	tok := is.token(t, func(c map[string]any) { c["scope"] = "api:read api:write" })
	var calls atomic.Int32
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	h := v.RequireUser(v.RequireScope("api:write")(inner))
	rec := call(t, func(http.Handler) http.Handler { return h }, "Bearer "+tok)
	if rec.Code != http.StatusOK || calls.Load() != 1 {
		t.Fatalf("composed middleware: %d, %d calls", rec.Code, calls.Load())
	}
}

func TestMetadata(t *testing.T) {
	is := newIssuer(t)
	for resource, want := range map[string]string{
		"https://api.example.com":    "https://api.example.com/.well-known/oauth-protected-resource",
		"https://api.example.com/":   "https://api.example.com/.well-known/oauth-protected-resource",
		"https://example.com/v1/mcp": "https://example.com/.well-known/oauth-protected-resource/v1/mcp",
		"http://localhost:3000/mcp":  "http://localhost:3000/.well-known/oauth-protected-resource/mcp",
	} {
		v := newVerifier(t, is, func(c *Config) { c.Audience = resource })
		if got := v.MetadataURL(); got != want {
			t.Errorf("MetadataURL(%s) = %s, want %s", resource, got, want)
		}
		if u, _ := url.Parse(want); v.MetadataPath() != u.Path {
			t.Errorf("MetadataPath(%s) = %s", resource, v.MetadataPath())
		}
	}
	v := newVerifier(t, is, nil)
	rec := httptest.NewRecorder()
	v.MetadataHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, MetadataPath, nil))
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("metadata: %v %s", err, rec.Body)
	}
	want := `{"authorization_servers":["` + is.URL + `"],"bearer_methods_supported":["header"],"resource":"https://api.example.com","resource_name":"Test API","scopes_supported":["api:read","api:write"]}`
	if got, _ := json.Marshal(doc); string(got) != want {
		t.Fatalf("metadata\n got %s\nwant %s", got, want)
	}
	rec = httptest.NewRecorder()
	v.MetadataHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, MetadataPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST metadata: %d", rec.Code)
	}
}
