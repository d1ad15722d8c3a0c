package server

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latch-idp/latch/storage"
)

// TestAttackLogout pins that a logout redirects only to a
// post_logout_redirect_uri registered character for character, and that
// refused attempts leave the session alone.
func TestAttackLogout(t *testing.T) {
	a := startAttack(t)
	s, scopes, public := a.s, a.scopes, a.public

	t.Run("case=post_logout_redirect_uri is matched character for character", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := public.login(t, b, u, scopes, nil)
		reg := "https://public.example.com/signed-out"
		for _, uri := range []string{
			"https://PUBLIC.example.com/signed-out", reg + "/", reg + "?next=https://evil.example", reg + "#x",
			"https://public.example.com/Signed-out", "https://public.example.com/signed%2Dout",
			"https://public.example.com/signed-out/../../evil", "https://public.example.com@evil.example/signed-out",
			"https://evil.example/signed-out", "http://public.example.com/signed-out", " " + reg, reg + "%00", "//evil.example",
		} {
			for name, q := range map[string]url.Values{
				"hint":      {"id_token_hint": {tok.RawIDToken}, "post_logout_redirect_uri": {uri}},
				"client_id": {"client_id": {public.client.ID}, "post_logout_redirect_uri": {uri}},
			} {
				p := b.get(t, s.URL+"/oauth2/logout?"+q.Encode())
				if p.Status != http.StatusBadRequest || p.Location != nil {
					t.Errorf("%s, post_logout_redirect_uri %q: %d Location %v, want a 400 page", name, uri, p.Status, p.Location)
				}
			}
		}
		// The session survived every refused attempt.
		ar := public.authURL(scopes, map[string]string{"prompt": "none"})
		b.authorize(t, ar.URL, flowSteps{}).code(t, s, ar.State)
	})
}
