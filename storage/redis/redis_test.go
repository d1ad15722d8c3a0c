package redis_test

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/storage"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

// clientOf reads the client of the test grants, as the grants' owner does
// for its own.
func clientOf(data []byte) (string, error) {
	var g struct {
		ClientID string `json:"client_id"`
	}
	err := json.Unmarshal(data, &g)
	return g.ClientID, err
}

func newStore(t *testing.T) *redisstore.Store {
	return redisstore.New(testenv.Redis(t), clientOf)
}

// grant is a stored grant of request id for client.
func grant(id, client string) []byte {
	return []byte(`{"id":"` + id + `","client_id":"` + client + `"}`)
}

func TestAuthorizeCodes(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.Put(ctx, redisstore.Code, "code-1", grant("req-1", "app"), time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Run("case=a fresh code returns its grant, unused", func(t *testing.T) {
		data, used, err := s.GetCode(ctx, "code-1")
		if err != nil || used || string(data) != string(grant("req-1", "app")) {
			t.Fatalf("got %q %v %v", data, used, err)
		}
	})
	t.Run("case=a used code still returns its grant, marked used", func(t *testing.T) {
		if err := s.MarkCodeUsed(ctx, "code-1", time.Minute); err != nil {
			t.Fatal(err)
		}
		data, used, err := s.GetCode(ctx, "code-1")
		if err != nil || !used || len(data) == 0 {
			t.Fatalf("got %q %v %v", data, used, err)
		}
		if err := s.MarkCodeUsed(ctx, "code-1", time.Minute); !errors.Is(err, redisstore.ErrUsed) {
			t.Fatalf("a second use must fail, got %v", err)
		}
	})
	t.Run("case=racing uses have one winner", func(t *testing.T) {
		s.Put(ctx, redisstore.Code, "code-2", grant("req-2", "app"), time.Minute)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s.MarkCodeUsed(ctx, "code-2", time.Minute) == nil {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("want one winner, got %d", wins.Load())
		}
	})
	t.Run("case=an unknown code is not found", func(t *testing.T) {
		if _, _, err := s.GetCode(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestAccessTokens(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	put := func(sig, req, client, user string, ttl time.Duration) {
		t.Helper()
		g := redisstore.Grant{RequestID: req, UserID: user, Data: grant(req, client)}
		if err := s.PutAccessToken(ctx, sig, g, ttl, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ sig, req, client, user string }{
		{"at-1", "grant-a", "app", "u1"}, {"at-2", "grant-a", "app", "u1"},
		{"at-3", "grant-b", "other", "u1"}, {"at-4", "grant-c", "app", "u2"},
		{"at-5", "grant-d", "svc", ""},
	} {
		put(tc.sig, tc.req, tc.client, tc.user, time.Minute)
	}
	active := func(sig string) bool {
		_, err := s.Get(ctx, redisstore.AccessToken, sig)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	t.Run("case=revoking a grant revokes all its access tokens and only those", func(t *testing.T) {
		if err := s.RevokeAccessToken(ctx, "grant-a"); err != nil {
			t.Fatal(err)
		}
		if active("at-1") || active("at-2") || !active("at-3") || !active("at-4") {
			t.Fatal("wrong tokens revoked")
		}
	})
	t.Run("case=revoking a user's tokens for one client", func(t *testing.T) {
		put("at-6", "grant-e", "app", "u1", time.Minute)
		if err := s.RevokeUserClientAccessTokens(ctx, "u1", "app"); err != nil {
			t.Fatal(err)
		}
		if active("at-6") || !active("at-3") {
			t.Fatal("only u1's tokens of app must go")
		}
	})
	t.Run("case=revoking a user's tokens", func(t *testing.T) {
		if err := s.RevokeUserAccessTokens(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		if active("at-3") || !active("at-4") || !active("at-5") {
			t.Fatal("only u1's tokens must go")
		}
	})
	t.Run("case=a token without time left is not stored", func(t *testing.T) {
		put("at-7", "grant-f", "app", "u3", 0)
		if active("at-7") {
			t.Fatal("expired token session kept")
		}
	})
}

func TestRecordsByID(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, kind := range []redisstore.Kind{redisstore.PKCE, redisstore.OIDC} {
		if err := s.Put(ctx, kind, "sig", grant("req-1", "app"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, kind, "sig"); err != nil || string(got) != string(grant("req-1", "app")) {
			t.Fatalf("%s: %q %v", kind, got, err)
		}
		if err := s.Delete(ctx, kind, "sig"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, kind, "sig"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("deleted %s record: %v", kind, err)
		}
	}
}

func TestClientAssertionsAreSingleUse(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.ClientAssertionUnused(ctx, "jti-1"); err != nil {
		t.Fatalf("a new jti: %v", err)
	}
	if err := s.MarkClientAssertion(ctx, "jti-1", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.ClientAssertionUnused(ctx, "jti-1"); !errors.Is(err, redisstore.ErrUsed) {
		t.Fatalf("a used jti: %v", err)
	}
	if err := s.MarkClientAssertion(ctx, "jti-1", time.Now().Add(time.Minute)); !errors.Is(err, redisstore.ErrUsed) {
		t.Fatalf("a second mark: %v", err)
	}
}
