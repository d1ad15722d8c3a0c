package redis_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/storage"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

func newStore(t *testing.T) *redisstore.Store {
	rdb := testenv.Redis(t)
	get := func(ctx context.Context, id string) (fosite.Client, error) {
		if id == "gone" {
			return nil, storage.ErrNotFound
		}
		return storage.FositeClient{Client: storage.Client{ID: id}}, nil
	}
	return redisstore.New(rdb, get, time.Minute, 15*time.Minute)
}

func request(id, clientID, subject string) *fosite.Request {
	sess := storage.NewSession(subject)
	sess.SetExpiresAt(fosite.AccessToken, time.Now().Add(15*time.Minute))
	r := fosite.NewRequest()
	r.ID = id
	r.Client = storage.FositeClient{Client: storage.Client{ID: clientID}}
	r.Session = sess
	r.GrantScope("openid")
	return r
}

func TestAuthorizeCodes(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.CreateAuthorizeCodeSession(ctx, "code-1", request("req-1", "app", "u1")); err != nil {
		t.Fatal(err)
	}
	t.Run("case=a fresh code returns its request", func(t *testing.T) {
		r, err := s.GetAuthorizeCodeSession(ctx, "code-1", storage.NewSession(""))
		if err != nil || r.GetID() != "req-1" || r.GetSession().GetSubject() != "u1" || !r.GetGrantedScopes().Has("openid") {
			t.Fatalf("got %v %+v", err, r)
		}
	})
	t.Run("case=nil session works", func(t *testing.T) {
		if _, err := s.GetAuthorizeCodeSession(ctx, "code-1", nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("case=an invalidated code returns the request and ErrInvalidatedAuthorizeCode", func(t *testing.T) {
		if err := s.InvalidateAuthorizeCodeSession(ctx, "code-1"); err != nil {
			t.Fatal(err)
		}
		r, err := s.GetAuthorizeCodeSession(ctx, "code-1", nil)
		if !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) || r == nil || r.GetID() != "req-1" {
			t.Fatalf("got %v %v", err, r)
		}
		if err := s.InvalidateAuthorizeCodeSession(ctx, "code-1"); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Fatalf("a second invalidation must fail, got %v", err)
		}
	})
	t.Run("case=racing invalidations have one winner", func(t *testing.T) {
		s.CreateAuthorizeCodeSession(ctx, "code-2", request("req-2", "app", "u1"))
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s.InvalidateAuthorizeCodeSession(ctx, "code-2") == nil {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("want one winner, got %d", wins.Load())
		}
	})
	t.Run("case=unknown code and deleted client are not found", func(t *testing.T) {
		if _, err := s.GetAuthorizeCodeSession(ctx, "nope", nil); !errors.Is(err, fosite.ErrNotFound) {
			t.Fatalf("got %v", err)
		}
		s.CreateAuthorizeCodeSession(ctx, "code-3", request("req-3", "gone", "u1"))
		if _, err := s.GetAuthorizeCodeSession(ctx, "code-3", nil); !errors.Is(err, fosite.ErrNotFound) {
			t.Fatalf("a code of a deleted client must be gone, got %v", err)
		}
	})
}

func TestAccessTokens(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, tc := range []struct{ sig, req, client, user string }{
		{"at-1", "grant-a", "app", "u1"}, {"at-2", "grant-a", "app", "u1"},
		{"at-3", "grant-b", "other", "u1"}, {"at-4", "grant-c", "app", "u2"},
		{"at-5", "grant-d", "svc", "svc"},
	} {
		if err := s.CreateAccessTokenSession(ctx, tc.sig, request(tc.req, tc.client, tc.user)); err != nil {
			t.Fatal(err)
		}
	}
	active := func(sig string) bool {
		_, err := s.GetAccessTokenSession(ctx, sig, nil)
		if err != nil && !errors.Is(err, fosite.ErrNotFound) {
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
		s.CreateAccessTokenSession(ctx, "at-6", request("grant-e", "app", "u1"))
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
	t.Run("case=an expired token is not stored", func(t *testing.T) {
		r := request("grant-f", "app", "u3")
		r.Session.SetExpiresAt(fosite.AccessToken, time.Now().Add(-2*time.Minute))
		if err := s.CreateAccessTokenSession(ctx, "at-7", r); err != nil {
			t.Fatal(err)
		}
		if active("at-7") {
			t.Fatal("expired token session kept")
		}
	})
}

func TestPKCEAndOIDCSessions(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	r := request("req-1", "app", "u1")
	s.CreatePKCERequestSession(ctx, "sig", r)
	if got, err := s.GetPKCERequestSession(ctx, "sig", nil); err != nil || got.GetID() != "req-1" {
		t.Fatalf("pkce: %v", err)
	}
	s.DeletePKCERequestSession(ctx, "sig")
	if _, err := s.GetPKCERequestSession(ctx, "sig", nil); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("deleted pkce session: %v", err)
	}
	s.CreateOpenIDConnectSession(ctx, "code", r)
	if got, err := s.GetOpenIDConnectSession(ctx, "code", r); err != nil || got.GetID() != "req-1" {
		t.Fatalf("oidc: %v", err)
	}
	s.DeleteOpenIDConnectSession(ctx, "code")
	if _, err := s.GetOpenIDConnectSession(ctx, "code", r); err == nil {
		t.Fatal("deleted oidc session found")
	}
}
