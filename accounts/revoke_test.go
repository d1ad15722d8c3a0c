package accounts_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
)

// tokens records what a Revocation asks Redis to end.
type tokens struct {
	grants  []string
	users   []string
	clients [][2]string
}

func (r *tokens) RevokeAccessTokens(_ context.Context, ids []string) error {
	r.grants = append(r.grants, ids...)
	return nil
}

func (r *tokens) RevokeUserAccessTokens(_ context.Context, userID string) error {
	r.users = append(r.users, userID)
	return nil
}

func (r *tokens) RevokeUserClientAccessTokens(_ context.Context, userID, clientID string) error {
	r.clients = append(r.clients, [2]string{userID, clientID})
	return nil
}

// families is a durable store whose user has refresh-token families.
type families struct {
	storage.Store
	revoked []string
	fx      []storage.Effects
}

func (f *families) RevokeUserRefreshTokens(_ context.Context, userID string, fx storage.Effects) ([]string, error) {
	f.revoked = append(f.revoked, userID)
	f.fx = append(f.fx, fx)
	return []string{"grant-1", "grant-2"}, nil
}

func TestRevocation(t *testing.T) {
	t.Run("case=revoking a user ends refresh tokens, access tokens and browser sessions", func(t *testing.T) {
		e := newEnv(t)
		u := e.user(t, email, pw)
		rdb := testenv.Redis(t)
		sessions := session.NewStore(rdb, session.Options{})
		if _, err := sessions.Create(t.Context(), httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), u.ID, []string{"pwd"}); err != nil {
			t.Fatal(err)
		}
		store, at := &families{Store: e.store}, &tokens{}
		fx := storage.Effects{Audit: []storage.AuditEvent{{Kind: "refresh_token_reuse", UserID: u.ID}}}
		if err := accounts.NewRevocation(store, at, sessions).RevokeUserWith(t.Context(), u.ID, fx); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(store.revoked, []string{u.ID}) || len(store.fx) != 1 || store.fx[0].Audit[0].Kind != "refresh_token_reuse" {
			t.Errorf("refresh tokens revoked %v with %+v", store.revoked, store.fx)
		}
		if !slices.Equal(at.grants, []string{"grant-1", "grant-2"}) || !slices.Equal(at.users, []string{u.ID}) {
			t.Errorf("access tokens: %+v", at)
		}
		if list, err := sessions.List(t.Context(), u.ID); err != nil || len(list) != 0 {
			t.Errorf("sessions left: %d %v", len(list), err)
		}
	})
	t.Run("case=revoking a grant deletes the consent and the grant's access tokens, and a missing one is no error", func(t *testing.T) {
		e := newEnv(t)
		u := e.user(t, email, pw)
		if err := e.store.CreateClient(t.Context(), storage.Client{ID: "app", Name: "App", TokenEndpointAuthMethod: storage.AuthMethodNone}); err != nil {
			t.Fatal(err)
		}
		if err := e.store.SaveConsent(t.Context(), storage.Consent{UserID: u.ID, ClientID: "app", Scopes: []string{"openid"}}); err != nil {
			t.Fatal(err)
		}
		at := &tokens{}
		v := accounts.NewRevocation(e.store, at, nil)
		for range 2 {
			if err := v.RevokeClientGrant(t.Context(), u.ID, "app"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.store.GetConsent(t.Context(), u.ID, "app"); err == nil {
			t.Error("consent left")
		}
		if len(at.clients) != 2 || at.clients[0] != [2]string{u.ID, "app"} {
			t.Errorf("access tokens: %+v", at.clients)
		}
	})
	t.Run("case=without Redis only refresh tokens end", func(t *testing.T) {
		e := newEnv(t)
		store := &families{Store: e.store}
		if err := accounts.NewRevocation(store, nil, nil).RevokeUser(t.Context(), "someone"); err != nil || len(store.revoked) != 1 {
			t.Errorf("revoked %v err %v", store.revoked, err)
		}
	})
}
