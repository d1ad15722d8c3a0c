package server

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latch-idp/latch/storage"
)

// TestLogout pins RP-initiated logout: with an id_token_hint it ends the
// session and redirects to a registered post_logout_redirect_uri only;
// without one it asks first, on a page with a CSRF token.
func TestLogout(t *testing.T) {
	f := startOIDC(t)
	s, public := f.s, f.public

	t.Run("case=RP-initiated logout", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := public.login(t, b, u, allScopes, nil)
		logout := claim(discovery(t, s), "end_session_endpoint")

		// An unregistered post_logout_redirect_uri: an error page, and the
		// session stays.
		q := url.Values{"id_token_hint": {tok.RawIDToken}, "post_logout_redirect_uri": {"https://evil.example.com/"}, "state": {"s1"}}
		p := b.get(t, logout+"?"+q.Encode())
		if p.Status != http.StatusBadRequest || p.Location != nil {
			t.Errorf("unregistered post_logout_redirect_uri: %d Location %v, want a 400 page", p.Status, p.Location)
		}
		ar := public.authURL(allScopes, map[string]string{"prompt": "none"})
		b.authorize(t, ar.URL, flowSteps{}).code(t, s, ar.State)

		state := randString(8)
		q = url.Values{"id_token_hint": {tok.RawIDToken}, "post_logout_redirect_uri": {"https://spa.example.com/signed-out"}, "state": {state}}
		p = b.get(t, logout+"?"+q.Encode())
		if p.Location == nil || p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
			t.Fatalf("logout: %d, want a redirect:\n%s", p.Status, p.Body)
		}
		mustEqual(t, "logout redirect", p.Location.Scheme+"://"+p.Location.Host+p.Location.Path, "https://spa.example.com/signed-out")
		mustEqual(t, "logout state", p.Location.Query().Get("state"), state)

		ar = public.authURL(allScopes, map[string]string{"prompt": "none"})
		if q := b.authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State); q.Get("error") != "login_required" {
			t.Errorf("after logout prompt=none gives %v, want login_required", q)
		}
	})

	t.Run("case=logout without id_token_hint asks first", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		public.login(t, b, u, allScopes, nil)
		logout := claim(discovery(t, s), "end_session_endpoint")
		q := url.Values{"client_id": {public.client.ID}, "post_logout_redirect_uri": {"https://spa.example.com/signed-out"}, "state": {"s2"}}
		p := b.get(t, logout+"?"+q.Encode())
		if p.Status != http.StatusOK || p.Location != nil {
			t.Fatalf("logout without a hint: %d Location %v, want a confirmation page", p.Status, p.Location)
		}
		f := p.formWith(t, "csrf_token")

		// Without the page's CSRF token the session stays.
		forged := url.Values{}
		for k, v := range f.Fields {
			forged[k] = v
		}
		forged.Del("csrf_token")
		if r := b.post(t, f.Action.String(), forged); r.Status != http.StatusForbidden && r.Status != http.StatusBadRequest {
			t.Errorf("confirmation without CSRF token: %d, want it refused", r.Status)
		}
		ar := public.authURL(allScopes, map[string]string{"prompt": "none"})
		b.authorize(t, ar.URL, flowSteps{}).code(t, s, ar.State)

		p = b.submit(t, f, nil, [2]string{})
		if p.Location == nil || p.Location.Host != "spa.example.com" || p.Location.Query().Get("state") != "s2" {
			t.Fatalf("confirmed logout: %d Location %v", p.Status, p.Location)
		}
		ar = public.authURL(allScopes, map[string]string{"prompt": "none"})
		if q := b.authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State); q.Get("error") != "login_required" {
			t.Errorf("after a confirmed logout prompt=none gives %v, want login_required", q)
		}
		if p := b.get(t, logout); p.Status != http.StatusOK {
			t.Errorf("logout without a session: %d, want the signed-out page", p.Status)
		}
	})
}
