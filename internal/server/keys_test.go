package server

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/storage"
)

// TestKeyRotation pins signing key rotation without a restart: a new key is
// published before it signs, a key made by another replica signs after the
// next reload, and tokens signed with the previous key still verify offline,
// at introspection, at userinfo and as an id_token_hint.
func TestKeyRotation(t *testing.T) {
	f := startOIDC(t)
	s, public, service := f.s, f.public, f.service

	t.Run("case=access tokens verify before and after key rotation", func(t *testing.T) {
		ctx := t.Context()
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		before := public.login(t, b, u, allScopes, nil)
		h, _ := s.verifyJWT(t, before.AccessToken)
		oldKID := h.KeyID

		// A rotation publishes the new keys (one of each algorithm) before
		// they sign anything.
		created, err := s.keys.Rotate(ctx)
		if err != nil || len(created) != len(keys.Algorithms()) {
			t.Fatalf("rotate: %v, %d keys", err, len(created))
		}
		if set := s.jwks(t); len(set.Key(created[0].ID)) != 1 {
			t.Error("the new key is not published at once")
		}
		_, body := s.rsToken(t, service)
		if h, _ := s.verifyJWT(t, body); h.KeyID != oldKID {
			t.Errorf("token signed with kid %s before the new key is due; want %s", h.KeyID, oldKID)
		}

		// Another replica (as `latch keys rotate` does) creates a key that
		// signs at once; this replica sees it at its next reload.
		other := keys.NewManager(s.store, s.box, keys.Options{Algorithms: []string{"RS256"}, PublishAhead: time.Millisecond})
		created, err = other.Rotate(ctx)
		if err != nil || len(created) != 1 {
			t.Fatalf("rotate: %v, %d keys", err, len(created))
		}
		newKID := created[0].ID
		for i := 0; ; i++ {
			if err := s.keys.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			_, at := s.rsToken(t, service)
			if h, _ := s.verifyJWT(t, at); h.KeyID == newKID {
				break
			}
			if i == 50 {
				t.Fatalf("the new key %s never signs", newKID)
			}
			time.Sleep(20 * time.Millisecond)
		}

		after := public.login(t, b, u, allScopes, nil) // go-oidc fetches the new key on its own
		ha, ca := s.verifyJWT(t, after.AccessToken)
		mustEqual(t, "kid after rotation", ha.KeyID, newKID)
		mustEqual(t, "sub after rotation", claim(ca, "sub"), u.ID)

		// The token signed before the rotation still verifies offline and
		// at latch.
		hb, cb := s.verifyJWT(t, before.AccessToken)
		mustEqual(t, "old token's kid", hb.KeyID, oldKID)
		mustEqual(t, "old token's sub", claim(cb, "sub"), u.ID)
		if !s.active(t, before.AccessToken) {
			t.Error("token signed with the previous key introspects inactive")
		}
		if status, _ := s.userinfo(t, http.MethodGet, before.AccessToken); status != http.StatusOK {
			t.Errorf("userinfo with the token of the previous key: %d", status)
		}
		// So does the ID token, as an id_token_hint.
		q := url.Values{"id_token_hint": {before.RawIDToken}, "post_logout_redirect_uri": {"https://spa.example.com/signed-out"}}
		if p := b.get(t, claim(discovery(t, s), "end_session_endpoint")+"?"+q.Encode()); p.Location == nil {
			t.Errorf("logout with an ID token of the previous key: %d, want a redirect", p.Status)
		}
	})
}

// TestES256 pins the ES256 configuration: go-oidc verifies the ID
// tokens and resource servers the access tokens. Discovery lists RS256 too,
// for clients that register it (id_token_signed_response_alg).
func TestES256(t *testing.T) {
	s := startServer(t, func(c *Config) { c.IDTokenAlg, c.AccessTokenAlg = "ES256", "ES256" })
	rp := s.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid profile"})

	t.Run("case=ES256 ID and access tokens verify", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		mustEqualSlice(t, "id_token_signing_alg_values_supported", toStrings(discovery(t, s)["id_token_signing_alg_values_supported"]), []string{"ES256", "RS256"})
		tok := rp.login(t, s.browser(), u, []string{"openid", "profile"}, nil) // go-oidc verifies the ID token
		mustEqual(t, "ID token alg", idTokenAlg(t, s, tok.RawIDToken), "ES256")
		h, c := s.verifyJWT(t, tok.AccessToken)
		mustEqual(t, "alg", h.Algorithm, "ES256")
		mustEqual(t, "typ", h.ExtraHeaders["typ"], any("at+jwt"))
		mustEqual(t, "sub", claim(c, "sub"), u.ID)
		if status, body := s.userinfo(t, http.MethodGet, tok.AccessToken); status != http.StatusOK {
			t.Errorf("userinfo: %s", describe(status, body))
		}
		if !s.active(t, tok.AccessToken) {
			t.Error("ES256 access token introspects inactive")
		}
	})
}
