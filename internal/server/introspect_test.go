package server

import (
	"testing"

	"github.com/latch-idp/latch/clients"
)

// TestIntrospectionSaysWhatTheTokenIs pins that introspection tells an
// access token from a refresh token (token_use, token_type Bearer only for
// access tokens) and gives each its own expiry, so a resource server that
// checks token_type cannot take a refresh token for a bearer token.
func TestIntrospectionSaysWhatTheTokenIs(t *testing.T) {
	s := startServer(t, nil)
	u := s.user(t, "user")
	rp := s.client(t, clients.Metadata{Scope: "openid offline_access", TokenEndpointAuthMethod: "client_secret_basic"})
	tok := rp.login(t, s.browser(), u, []string{"openid", "offline_access"}, nil)

	at := s.introspect(t, tok.AccessToken)
	if at["active"] != true || at["token_use"] != "access_token" || at["token_type"] != "Bearer" || at["iss"] != s.URL || at["sub"] != u.ID || at["client_id"] != rp.client.ID {
		t.Fatalf("access token: %v", at)
	}
	if aud, _ := at["aud"].([]any); len(aud) != 1 || aud[0] != rp.client.ID {
		t.Errorf("access token aud: %v", at["aud"])
	}
	rt := s.introspect(t, tok.RefreshToken)
	if rt["active"] != true || rt["token_use"] != "refresh_token" || rt["token_type"] != nil {
		t.Fatalf("refresh token: %v", rt)
	}
	atExp, _ := at["exp"].(float64)
	rtExp, _ := rt["exp"].(float64)
	if atExp == 0 || rtExp <= atExp {
		t.Errorf("each token has its own expiry: access %v, refresh %v", atExp, rtExp)
	}
}
