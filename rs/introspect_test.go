package rs

import (
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

func TestStrictModeIntrospects(t *testing.T) {
	is := newIssuer(t)
	var revoked atomic.Bool
	is.introspect = func(form url.Values, user, pass string) map[string]any {
		// RFC 6749 section 2.3.1: form-encoded, then Basic.
		user, _ = url.QueryUnescape(user)
		pass, _ = url.QueryUnescape(pass)
		if user != "api-client" || pass != "s3cret/+" || form.Get("token") == "" {
			return map[string]any{"active": false}
		}
		return map[string]any{"active": !revoked.Load(), "sub": "2b7d4c1e-user", "client_id": "app", "token_use": "access_token"}
	}
	v := newVerifier(t, is, func(c *Config) {
		c.Introspection = &Introspection{ClientID: "api-client", ClientSecret: "s3cret/+", CacheTTL: 300 * time.Millisecond}
	})
	tok := is.token(t, nil)
	for range 3 {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatalf("active token: %v", err)
		}
	}
	if n := is.introspects.Load(); n != 1 {
		t.Fatalf("%d introspections for three calls within the cache time, want 1", n)
	}
	revoked.Store(true)
	time.Sleep(400 * time.Millisecond)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked token after the cache time: %v", err)
	}
	wantStatus(t, call(t, v.RequireUser, "Bearer "+tok), http.StatusUnauthorized, invalidChallenge("The access token was revoked."))
}

func TestStrictModeFailsClosed(t *testing.T) {
	is := newIssuer(t)
	v := newVerifier(t, is, func(c *Config) {
		c.Introspection = &Introspection{ClientID: "a", ClientSecret: "b", Endpoint: "http://127.0.0.1:1/introspect"}
	})
	tok := is.token(t, nil)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unreachable introspection: %v, want ErrUnavailable", err)
	}
	if rec := call(t, v.RequireUser, "Bearer "+tok); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
}
