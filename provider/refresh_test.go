package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/hmac"

	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/memory"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

// countingStore counts the calls that reuse must make once.
type countingStore struct {
	*memory.Store
	gets, familyRevokes atomic.Int32
}

func (s *countingStore) GetRefreshToken(ctx context.Context, signature string, grace time.Duration) (storage.RefreshToken, error) {
	s.gets.Add(1)
	return s.Store.GetRefreshToken(ctx, signature, grace)
}

func (s *countingStore) RevokeRefreshFamily(ctx context.Context, requestID string, fx storage.Effects) error {
	s.familyRevokes.Add(1)
	return s.Store.RevokeRefreshFamily(ctx, requestID, fx)
}

// refreshFixture is the adapter over a memory store and the test's Redis,
// with fosite's own refresh-token handler on top, and one grant: a user's
// refresh token (token, of family req.ID) with an access token ("at-1").
type refreshFixture struct {
	store   *countingStore
	fstore  *fositeStore
	handler *oauth2.RefreshTokenGrantHandler
	client  fosite.Client
	user    storage.User
	req     *fosite.Request
	token   string
	sig     string

	mu   sync.Mutex
	mail []storage.MailJob
}

func newRefreshFixture(t *testing.T, grace time.Duration) *refreshFixture {
	t.Helper()
	ctx := t.Context()
	f := &refreshFixture{}
	f.store = &countingStore{Store: memory.New(memory.Options{Mail: func(m storage.MailJob) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.mail = append(f.mail, m)
	}})}
	sc := storage.Client{
		ID: "app", Name: "The App", RedirectURIs: []string{"https://app.example/cb"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "offline_access"}, TokenEndpointAuthMethod: storage.AuthMethodNone,
	}
	if err := f.store.CreateClient(ctx, sc); err != nil {
		t.Fatal(err)
	}
	u, err := f.store.CreateUser(ctx, storage.User{Email: "alice@example.com", PasswordHash: "$argon2id$fake"}, storage.Effects{})
	if err != nil {
		t.Fatal(err)
	}
	f.user = u

	cfg := Config{RefreshTokenTTL: time.Hour, RefreshGracePeriod: grace}
	f.fstore = &fositeStore{
		durable:   f.store,
		volatile:  redisstore.New(testenv.Redis(t), RequestClientID),
		clients:   newClientCache(f.store.GetClient, nil, 0),
		refresh:   newRefreshPolicy(cfg, nil, slog.New(slog.DiscardHandler)),
		codeTTL:   time.Minute,
		accessTTL: time.Minute,
	}
	fcfg := &fosite.Config{
		GlobalSecret:         []byte("a refresh test secret of 32 byte"),
		RefreshTokenLifespan: f.fstore.refresh.idle,
		AccessTokenLifespan:  time.Minute,
		RefreshTokenScopes:   []string{"offline_access"},
		ScopeStrategy:        fosite.ExactScopeStrategy,
	}
	strategy := oauth2.NewHMACSHAStrategyUnPrefixed(&hmac.HMACStrategy{Config: fcfg}, fcfg)
	f.handler = &oauth2.RefreshTokenGrantHandler{
		AccessTokenStrategy: strategy, RefreshTokenStrategy: strategy,
		TokenRevocationStorage: f.fstore, Config: fcfg,
	}
	if f.client, err = f.fstore.GetClient(ctx, "app"); err != nil {
		t.Fatal(err)
	}

	sess := NewSession(u.ID)
	sess.GrantedAt = time.Now().UTC()
	sess.SetExpiresAt(fosite.RefreshToken, time.Now().Add(time.Hour))
	sess.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Minute))
	f.req = fosite.NewRequest()
	f.req.ID = "req-1"
	f.req.Client = f.client
	f.req.Session = sess
	f.req.GrantedScope = fosite.Arguments{"openid", "offline_access"}
	if f.token, f.sig, err = strategy.GenerateRefreshToken(ctx, f.req); err != nil {
		t.Fatal(err)
	}
	if err := f.fstore.CreateAccessTokenSession(ctx, "at-1", f.req); err != nil {
		t.Fatal(err)
	}
	if err := f.fstore.CreateRefreshTokenSession(ctx, f.sig, "at-1", f.req); err != nil {
		t.Fatal(err)
	}
	return f
}

// present runs fosite's refresh handler as the token endpoint does: the
// client presents token, and the request is in ctx for the adapter.
func (f *refreshFixture) present(t *testing.T, token string) error {
	t.Helper()
	ar := fosite.NewAccessRequest(NewSession(""))
	ar.GrantTypes = fosite.Arguments{"refresh_token"}
	ar.Client = f.client
	ar.Form.Set("refresh_token", token)
	ctx := context.WithValue(t.Context(), fosite.AccessRequestContextKey, ar)
	ctx = withTokenRequest(ctx, &tokenRequest{ip: "192.0.2.7", userAgent: "refresh-test"})
	f.store.gets.Store(0)
	f.store.familyRevokes.Store(0)
	return f.handler.HandleTokenEndpointRequest(ctx, ar)
}

func (f *refreshFixture) mailTemplates() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.mail {
		out = append(out, m.Template)
	}
	return out
}

// TestRefreshReuseReadsOnceRevokesOnce pins the reuse path through fosite's
// own refresh handler: the token row is read once, the family revoked
// once, with one audit event and one alert mail, and the family's access
// tokens are gone; a token in its grace period is no reuse.
func TestRefreshReuseReadsOnceRevokesOnce(t *testing.T) {
	t.Run("case=a rotated token is reuse, handled once", func(t *testing.T) {
		f := newRefreshFixture(t, 0)
		ctx := t.Context()
		if err := f.fstore.RotateRefreshToken(ctx, f.req.ID, f.sig); err != nil {
			t.Fatal(err)
		}
		err := f.present(t, f.token)
		if !errors.Is(err, fosite.ErrInvalidGrant) {
			t.Fatalf("reuse: %v, want invalid_grant", err)
		}
		if n := f.store.gets.Load(); n != 1 {
			t.Errorf("the token was read %d times, want once", n)
		}
		if n := f.store.familyRevokes.Load(); n != 1 {
			t.Errorf("the family was revoked %d times, want once", n)
		}
		events, err := f.store.ListAudit(ctx, f.user.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].Kind != "refresh_token_reuse" || events[0].IP != "192.0.2.7" ||
			events[0].ClientID != "app" || events[0].Detail["grant"] != f.req.ID {
			t.Errorf("audit = %+v, want one refresh_token_reuse of the request", events)
		}
		if got := f.mailTemplates(); !slices.Equal(got, []string{"refresh_reuse"}) {
			t.Errorf("mail = %v, want one refresh_reuse", got)
		}
		if tok, err := f.store.GetRefreshToken(ctx, f.sig, 0); err != nil || tok.State != storage.RefreshRevoked {
			t.Errorf("the reused token: %v, %v; want revoked", tok.State, err)
		}
		if _, err := f.fstore.GetAccessTokenSession(ctx, "at-1", NewSession("")); !isNotFound(err) {
			t.Errorf("the family's access token: %v, want not found", err)
		}
	})

	t.Run("case=a token rotated within the grace period is honoured", func(t *testing.T) {
		f := newRefreshFixture(t, time.Minute)
		if err := f.fstore.RotateRefreshToken(t.Context(), f.req.ID, f.sig); err != nil {
			t.Fatal(err)
		}
		if err := f.present(t, f.token); err != nil {
			t.Fatalf("within the grace period: %v", err)
		}
		if n := f.store.gets.Load(); n != 1 {
			t.Errorf("the token was read %d times, want once", n)
		}
		if n := f.store.familyRevokes.Load(); n != 0 || len(f.mailTemplates()) != 0 {
			t.Errorf("the family was revoked %d times, mail %v; want neither", n, f.mailTemplates())
		}
	})
}

// TestRefreshPolicyLifetimes pins how the idle lifetime follows the
// absolute one.
func TestRefreshPolicyLifetimes(t *testing.T) {
	for _, c := range []struct {
		name                 string
		idle, absolute, want time.Duration
	}{
		{"idle within absolute", time.Hour, 24 * time.Hour, time.Hour},
		{"no idle lifetime is the absolute one", 0, 24 * time.Hour, 24 * time.Hour},
		{"idle beyond absolute is the absolute one", 48 * time.Hour, 24 * time.Hour, 24 * time.Hour},
	} {
		t.Run("case="+c.name, func(t *testing.T) {
			p := newRefreshPolicy(Config{RefreshIdleTTL: c.idle, RefreshTokenTTL: c.absolute}, nil, nil)
			if p.idle != c.want {
				t.Errorf("idle = %v, want %v", p.idle, c.want)
			}
			if p.revokes != ReuseRevokesFamily {
				t.Errorf("reuse revokes %q by default, want %q", p.revokes, ReuseRevokesFamily)
			}
		})
	}
}

// TestFositeError pins the adapter's translation of storage's errors into
// the ones fosite acts on; the store's own error stays visible.
func TestFositeError(t *testing.T) {
	other := errors.New("some other failure")
	for _, c := range []struct {
		name      string
		err, want error
	}{
		{"not-found", storage.ErrNotFound, fosite.ErrNotFound},
		{"inactive-refresh-token", storage.ErrInactive, fosite.ErrInactiveToken},
		{"conflict-is-a-serialization-failure", storage.ErrConflict, fosite.ErrSerializationFailure},
		{"other-errors-pass-through", other, other},
	} {
		t.Run("case="+c.name, func(t *testing.T) {
			wrapped := fmt.Errorf("postgres: something: %w", c.err)
			got := fositeError(wrapped)
			if !errors.Is(got, c.want) || !errors.Is(got, c.err) {
				t.Errorf("fositeError(%v) = %v, want %v wrapping %v", wrapped, got, c.want, c.err)
			}
		})
	}
	if fositeError(nil) != nil {
		t.Error("fositeError(nil) is not nil")
	}
}
