package session_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/session"
)

func cookieOf(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	cs := rec.Result().Cookies()
	if len(cs) == 0 {
		t.Fatal("no cookie set")
	}
	return cs[len(cs)-1]
}

func TestSessions(t *testing.T) {
	rdb := testenv.Redis(t)
	ctx := t.Context()

	t.Run("case=secure cookie attributes and renewal at login", func(t *testing.T) {
		s := session.NewStore(rdb, session.Options{Secure: true})
		rec := httptest.NewRecorder()
		sess, err := s.Create(ctx, rec, httptest.NewRequest("POST", "/login", nil), "u1", []string{"pwd"})
		if err != nil {
			t.Fatal(err)
		}
		c := cookieOf(t, rec)
		if c.Name != "__Host-latch_session" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
			t.Fatalf("cookie attributes: %+v", c)
		}
		if strings.Contains(sess.ID, c.Value) || sess.ID == c.Value {
			t.Fatal("the public session ID must not be the cookie value")
		}
		if keys := rdb.Keys(ctx, "*"+c.Value+"*").Val(); len(keys) != 0 {
			t.Fatalf("Redis must not hold the cookie value, found %v", keys)
		}
		// Logging in again with the old cookie ends the old session.
		req := httptest.NewRequest("POST", "/login", nil)
		req.AddCookie(c)
		rec2 := httptest.NewRecorder()
		sess2, err := s.Create(ctx, rec2, req, "u1", []string{"pwd", "otp"})
		if err != nil {
			t.Fatal(err)
		}
		if sess2.ID == sess.ID {
			t.Fatal("the session ID must change at login")
		}
		if _, err := s.Lookup(ctx, sess.ID); !errors.Is(err, session.ErrNoSession) {
			t.Fatal("the old session must be gone")
		}
		req = httptest.NewRequest("GET", "/account", nil)
		req.AddCookie(cookieOf(t, rec2))
		got, err := s.Get(ctx, req)
		if err != nil || got.ID != sess2.ID || len(got.AMR) != 2 {
			t.Fatalf("get: %v %+v", err, got)
		}
	})
	t.Run("case=plain http development drops only Secure and the prefix", func(t *testing.T) {
		s := session.NewStore(rdb, session.Options{Secure: false})
		rec := httptest.NewRecorder()
		if _, err := s.Create(ctx, rec, httptest.NewRequest("POST", "/login", nil), "u2", nil); err != nil {
			t.Fatal(err)
		}
		c := cookieOf(t, rec)
		if c.Name != "latch_session" || c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
			t.Fatalf("cookie attributes: %+v", c)
		}
	})
	t.Run("case=idle lifetime bounds the Redis TTL", func(t *testing.T) {
		s := session.NewStore(rdb, session.Options{Idle: 2 * time.Minute, Absolute: time.Hour})
		sess, err := s.Create(ctx, httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil), "u3", nil)
		if err != nil {
			t.Fatal(err)
		}
		if ttl := rdb.TTL(ctx, "latch:session:"+sess.ID).Val(); ttl <= 0 || ttl > 2*time.Minute {
			t.Fatalf("want a TTL of at most the idle lifetime, got %v", ttl)
		}
	})
	t.Run("case=list, end one, end all", func(t *testing.T) {
		s := session.NewStore(rdb, session.Options{})
		var cookies []*http.Cookie
		for range 3 {
			rec := httptest.NewRecorder()
			if _, err := s.Create(ctx, rec, httptest.NewRequest("POST", "/", nil), "u4", nil); err != nil {
				t.Fatal(err)
			}
			cookies = append(cookies, cookieOf(t, rec))
		}
		list, err := s.List(ctx, "u4")
		if err != nil || len(list) != 3 {
			t.Fatalf("list: %v %d", err, len(list))
		}
		req := httptest.NewRequest("POST", "/logout", nil)
		req.AddCookie(cookies[0])
		rec := httptest.NewRecorder()
		if err := s.End(ctx, rec, req); err != nil {
			t.Fatal(err)
		}
		if c := cookieOf(t, rec); c.MaxAge >= 0 {
			t.Fatal("End must clear the cookie")
		}
		if _, err := s.Get(ctx, req); !errors.Is(err, session.ErrNoSession) {
			t.Fatal("ended session still valid")
		}
		if err := s.DeleteUser(ctx, "u4"); err != nil {
			t.Fatal(err)
		}
		for _, c := range cookies {
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(c)
			if _, err := s.Get(ctx, req); !errors.Is(err, session.ErrNoSession) {
				t.Fatal("DeleteUser must end every session")
			}
		}
	})
	t.Run("case=forged cookie", func(t *testing.T) {
		s := session.NewStore(rdb, session.Options{})
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: s.CookieName(), Value: "forged"})
		if _, err := s.Get(ctx, req); !errors.Is(err, session.ErrNoSession) {
			t.Fatalf("got %v", err)
		}
	})
}
