package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/storage"
)

func TestRegistrationOpen(t *testing.T) {
	s := startRegistration(t, registration.Open)
	t.Run("case=a public client registers and signs a user in with consent", func(t *testing.T) {
		body := s.register(t, "", publicApp())
		if claim(body, "registration_access_token") == "" || claim(body, "client_secret") != "" ||
			claim(body, "registration_client_uri") != s.URL+registration.Path+"/"+claim(body, "client_id") {
			t.Fatalf("registration answer: %v", body)
		}
		rp := s.registeredParty(t, body)
		ar := rp.authURL([]string{"openid", "api:read"}, nil)
		res := s.browser().authorize(t, ar.URL, flowSteps{Email: s.user(t, "user").Email, Password: testPassword, Consent: "allow"})
		if !res.SawConsent {
			t.Fatal("a registered client got no consent page")
		}
		tok := rp.exchange(t, res.code(t, s, ar.State), ar)
		aud, _ := accessClaims(t, s, tok.AccessToken)
		mustEqualSlice(t, "aud", aud, []string{testAPI, s.URL + "/userinfo"})
	})
	t.Run("case=a public client without PKCE is refused", func(t *testing.T) {
		rp := s.registeredParty(t, s.register(t, "", publicApp()))
		ar := rp.authURL([]string{"openid"}, map[string]string{"code_challenge": "", "code_challenge_method": ""})
		q := s.browser().authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State)
		mustEqual(t, "error", q.Get("error"), "invalid_request")
	})
	t.Run("case=a confidential client gets a secret that works once shown", func(t *testing.T) {
		m := publicApp()
		m["token_endpoint_auth_method"] = "client_secret_basic"
		body := s.register(t, "", m)
		if len(claim(body, "client_secret")) < 40 || body["client_secret_expires_at"] != float64(0) {
			t.Fatalf("registration answer: %v", body)
		}
		rp := s.registeredParty(t, body)
		tok := rp.login(t, s.browser(), s.user(t, "user"), []string{"openid"}, nil)
		if tok.AccessToken == "" {
			t.Fatal("no access token")
		}
	})
	t.Run("case=discovery advertises the endpoint", func(t *testing.T) {
		status, doc := s.doJSON(t, s.request(t, http.MethodGet, "/.well-known/openid-configuration", nil))
		if status != http.StatusOK || claim(doc, "registration_endpoint") != s.URL+registration.Path {
			t.Fatalf("registration_endpoint = %v", doc["registration_endpoint"])
		}
	})
}

func TestRegistrationManagement(t *testing.T) {
	s := startRegistration(t, registration.Open)
	body := s.register(t, "", publicApp())
	uri, token := claim(body, "registration_client_uri"), claim(body, "registration_access_token")
	other := s.register(t, "", publicApp())
	t.Run("case=read with the right token only", func(t *testing.T) {
		status, got, _ := s.registrationCall(t, http.MethodGet, uri, token, nil)
		if status != http.StatusOK || claim(got, "client_id") != claim(body, "client_id") || claim(got, "registration_access_token") != "" {
			t.Fatalf("read: %s", describe(status, got))
		}
		for name, bad := range map[string]string{"none": "", "another client's": claim(other, "registration_access_token"), "bogus": "x" + token} {
			status, got, h := s.registrationCall(t, http.MethodGet, uri, bad, nil)
			if status != http.StatusUnauthorized || oauthError(got) != "invalid_token" || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s token: %s", name, describe(status, got))
			}
		}
		if status, _, _ := s.registrationCall(t, http.MethodGet, s.URL+registration.Path+"/"+s.rs.client.ID, token, nil); status != http.StatusUnauthorized {
			t.Errorf("a client made by an administrator: %d, want 401", status)
		}
	})
	t.Run("case=update replaces the metadata, and refuses another client_id", func(t *testing.T) {
		m := publicApp()
		m["client_id"] = claim(body, "client_id")
		m["redirect_uris"] = []string{"https://spa.registered.example/new"}
		status, got, _ := s.registrationCall(t, http.MethodPut, uri, token, m)
		if status != http.StatusOK || !strings.Contains(strings.Join(toStrings(got["redirect_uris"]), " "), "/new") {
			t.Fatalf("update: %s", describe(status, got))
		}
		m["client_id"] = claim(other, "client_id")
		if status, got, _ = s.registrationCall(t, http.MethodPut, uri, token, m); status != http.StatusBadRequest || oauthError(got) != "invalid_client_metadata" {
			t.Fatalf("update to another client_id: %s", describe(status, got))
		}
	})
	t.Run("case=no token or secret reaches the log", func(t *testing.T) {
		for _, secret := range []string{token, claim(other, "registration_access_token")} {
			if strings.Contains(s.logs.String(), secret) {
				t.Fatal("a registration access token is in the log")
			}
		}
	})
	t.Run("case=delete ends the client and its token", func(t *testing.T) {
		if status, _, _ := s.registrationCall(t, http.MethodDelete, uri, token, nil); status != http.StatusNoContent {
			t.Fatalf("delete: %d", status)
		}
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			if status, _, _ := s.registrationCall(t, method, uri, token, nil); status != http.StatusUnauthorized {
				t.Errorf("%s after delete: %d, want 401", method, status)
			}
		}
		events, err := s.store.QueryAudit(t.Context(), storage.AuditQuery{ClientID: claim(body, "client_id")})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range events {
			kinds = append(kinds, e.Kind)
		}
		mustEqualSlice(t, "audit", kinds, []string{"client_registration_deleted", "client_registration_updated", "client_registered"})
		rp := s.registeredParty(t, other)
		ar := rp.authURL([]string{"openid"}, map[string]string{"client_id": claim(body, "client_id")})
		if p := s.browser().get(t, ar.URL); p.Status != http.StatusBadRequest {
			t.Errorf("authorization for the deleted client: %d", p.Status)
		}
	})
}

func TestRegistrationWithInitialAccessTokens(t *testing.T) {
	s := startRegistration(t, registration.Token)
	post := func(t *testing.T, token string) (int, map[string]any) {
		status, body, _ := s.registrationCall(t, http.MethodPost, s.URL+registration.Path, token, publicApp())
		return status, body
	}
	once := s.initialToken(t, 1, time.Hour)
	for name, token := range map[string]string{"no": "", "a bogus": "bogus", "an expired": s.initialToken(t, 1, -time.Minute)} {
		if status, body := post(t, token); status != http.StatusUnauthorized || oauthError(body) != "invalid_token" {
			t.Errorf("%s token: %s", name, describe(status, body))
		}
	}
	if status, body := post(t, once); status != http.StatusCreated {
		t.Fatalf("a valid token: %s", describe(status, body))
	}
	if status, body := post(t, once); status != http.StatusUnauthorized {
		t.Fatalf("a used-up token: %s", describe(status, body))
	}
	t.Run("case=two racing registrations with a single-use token: one wins", func(t *testing.T) {
		token := s.initialToken(t, 1, time.Hour)
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				status, _ := post(t, token)
				mu.Lock()
				codes[status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[http.StatusCreated] != 1 || codes[http.StatusUnauthorized] != 7 {
			t.Fatalf("answers %v, want one 201 and seven 401", codes)
		}
	})
}

func TestRegistrationClosed(t *testing.T) {
	s := startServer(t, nil)
	status, body, _ := s.registrationCall(t, http.MethodPost, s.URL+registration.Path, "", publicApp())
	if status != http.StatusNotFound || !strings.Contains(claim(body, "error_description"), "not enabled") {
		t.Fatalf("closed registration: %s", describe(status, body))
	}
	_, doc := s.doJSON(t, s.request(t, http.MethodGet, "/.well-known/openid-configuration", nil))
	if _, ok := doc["registration_endpoint"]; ok {
		t.Fatal("discovery advertises a closed registration endpoint")
	}
}

// TestDevServerPrintsAnInitialAccessToken pins what --dev prints in token
// mode: a token that registers clients (the CLI cannot reach the
// in-memory store to make one).
func TestDevServerPrintsAnInitialAccessToken(t *testing.T) {
	c := cheapConfig()
	c.Dev, c.ClientRegistration = true, registration.Token
	hs := httptest.NewUnstartedServer(nil)
	c.Issuer = "http://" + hs.Listener.Addr().String()
	var out syncBuffer
	srv, err := New(t.Context(), *c, &out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs.Config.Handler = srv.Handler()
	hs.Start()
	defer hs.Close()
	m := regexp.MustCompile(`Authorization: Bearer (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no initial access token printed:\n%s", out.String())
	}
	s := &testServer{Server: srv, URL: c.Issuer}
	for range 2 {
		if status, body, _ := s.registrationCall(t, http.MethodPost, c.Issuer+registration.Path, m[1], publicApp()); status != http.StatusCreated {
			t.Fatalf("register with the printed token: %s", describe(status, body))
		}
	}
}
