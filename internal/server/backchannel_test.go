package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-idp/latch/backchannel"
	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// receiver is an application's back-channel logout endpoint: it records
// every logout token posted to it, by path, and answers with status(path).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	status func(path string, n int) int
}

type delivery struct{ Path, Token string }

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{status: func(string, int) int { return http.StatusOK }}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		tok := r.PostFormValue("logout_token")
		rc.got = append(rc.got, delivery{Path: r.URL.Path, Token: tok})
		n := len(rc.got)
		status := rc.status
		rc.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || tok == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		code := status(r.URL.Path, n)
		if code == http.StatusFound {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// wait returns the deliveries to path once there are n, failing after a
// while; more than n fails too.
func (rc *receiver) wait(t testing.TB, path string, n int, within time.Duration) []delivery {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rc.mu.Lock()
		var out []delivery
		for _, d := range rc.got {
			if d.Path == path {
				out = append(out, d)
			}
		}
		rc.mu.Unlock()
		if len(out) > n {
			t.Fatalf("%s got %d logout tokens, want %d", path, len(out), n)
		}
		if len(out) == n && (n > 0 || time.Now().After(deadline)) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s got %d logout tokens within %v, want %d", path, len(out), within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// backchannelClient registers a public client told at rc's path.
func backchannelClient(t testing.TB, s *testServer, name, uri string) *relyingParty {
	return s.client(t, clients.Metadata{
		ClientName: name, TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid email",
		BackchannelLogoutURI: uri, BackchannelLogoutSessionRequired: uri != "",
	})
}

// checkLogoutToken verifies tok against latch's JWKS with go-jose and
// checks it is a logout token for client about the session of idToken.
func checkLogoutToken(t testing.TB, s *testServer, tok, client, idToken string) map[string]any {
	t.Helper()
	h, claims := s.verifyJWT(t, tok)
	_, id := s.verifyJWT(t, idToken)
	events, _ := claims["events"].(map[string]any)
	if typ, _ := h.ExtraHeaders["typ"].(string); typ != backchannel.TokenType {
		t.Errorf("typ %q, want %s", typ, backchannel.TokenType)
	}
	if aud, _ := claims["aud"].([]any); claims["iss"] != strings.TrimRight(s.cfg.Issuer, "/") || len(aud) != 1 || aud[0] != client {
		t.Errorf("iss %v aud %v, want latch and %s", claims["iss"], claims["aud"], client)
	}
	if _, ok := events[backchannel.Event]; !ok || claims["sid"] != id["sid"] || claims["sub"] != id["sub"] || claims["sid"] == nil {
		t.Errorf("events %v sid %v sub %v, want the event and the ID token's sid %v and sub %v", claims["events"], claims["sid"], claims["sub"], id["sid"], id["sub"])
	}
	if _, ok := claims["nonce"]; ok || claims["jti"] == nil || claims["iat"] == nil || claims["exp"] == nil {
		t.Errorf("a logout token has jti, iat and exp and no nonce: %v", claims)
	}
	return claims
}

func allowPrivate(c *Config) { c.BackchannelAllowPrivate = true }

func TestBackchannelLogoutTellsTheAppsOfTheSession(t *testing.T) {
	a := startAdmin(t, allowPrivate)
	s, rc := a.s, newReceiver(t)
	appA := backchannelClient(t, s, "App A", rc.URL+"/a")
	appB := backchannelClient(t, s, "App B", rc.URL+"/b")
	silent := backchannelClient(t, s, "App C", "")
	scopes := []string{"openid", "email"}

	u, other := s.user(t, storage.RoleUser), s.user(t, storage.RoleUser)
	br, otherBr := s.browser(), s.browser()
	idA := appA.login(t, br, u, scopes, nil).RawIDToken
	idB := appB.login(t, br, u, scopes, nil).RawIDToken
	silent.login(t, br, u, scopes, nil)
	otherID := appA.login(t, otherBr, other, scopes, nil).RawIDToken

	d := discovery(t, s)
	if d["backchannel_logout_supported"] != true || d["backchannel_logout_session_supported"] != true {
		t.Errorf("discovery: backchannel_logout_supported %v, backchannel_logout_session_supported %v", d["backchannel_logout_supported"], d["backchannel_logout_session_supported"])
	}

	t.Run("case=RP-initiated logout tells both apps of the session, and the page names them", func(t *testing.T) {
		p := br.get(t, claim(d, "end_session_endpoint")+"?"+url.Values{"id_token_hint": {idA}}.Encode())
		mustSay(t, "the signed-out page", p, "App A", "App B", "are being told to sign you out")
		if strings.Contains(p.Body, "App C") {
			t.Errorf("the signed-out page names an app that has no back-channel logout:\n%s", p.Body)
		}
		ta := checkLogoutToken(t, s, rc.wait(t, "/a", 1, 10*time.Second)[0].Token, appA.client.ID, idA)
		tb := checkLogoutToken(t, s, rc.wait(t, "/b", 1, 10*time.Second)[0].Token, appB.client.ID, idB)
		if ta["jti"] == tb["jti"] {
			t.Error("two logout tokens share a jti")
		}
		// The other user's session of App A is not ended, nor told.
		time.Sleep(time.Second)
		rc.wait(t, "/a", 1, 0)
	})
	t.Run("case=an administrator ending a user's sessions tells the apps", func(t *testing.T) {
		a.as(t, http.MethodPost, "/admin/users/"+other.ID+"/revoke", nil).want(t, http.StatusOK)
		got := rc.wait(t, "/a", 2, 10*time.Second)
		checkLogoutToken(t, s, got[1].Token, appA.client.ID, otherID)
	})
}

func TestBackchannelLogoutRetriesUntilTheAppAnswers(t *testing.T) {
	s, rc := startServer(t, allowPrivate), newReceiver(t)
	rc.status = func(_ string, n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	app := backchannelClient(t, s, "Flaky app", rc.URL+"/flaky")
	br := s.browser()
	id := app.login(t, br, s.user(t, storage.RoleUser), []string{"openid"}, nil).RawIDToken
	br.get(t, claim(discovery(t, s), "end_session_endpoint")+"?"+url.Values{"id_token_hint": {id}}.Encode())
	got := rc.wait(t, "/flaky", 2, 20*time.Second)
	checkLogoutToken(t, s, got[1].Token, app.client.ID, id)
}

func TestBackchannelLogoutFollowsNoRedirect(t *testing.T) {
	s, rc := startServer(t, allowPrivate), newReceiver(t)
	rc.status = func(string, int) int { return http.StatusFound }
	app := backchannelClient(t, s, "Redirecting app", rc.URL+"/moved")
	br := s.browser()
	id := app.login(t, br, s.user(t, storage.RoleUser), []string{"openid"}, nil).RawIDToken
	br.get(t, claim(discovery(t, s), "end_session_endpoint")+"?"+url.Values{"id_token_hint": {id}}.Encode())
	rc.wait(t, "/moved", 1, 10*time.Second)
	rc.wait(t, "/elsewhere", 0, 3*time.Second)
}

func TestBackchannelLogoutReachesNoPrivateAddressUnlessAllowed(t *testing.T) {
	s, rc := startServer(t, nil), newReceiver(t)
	app := backchannelClient(t, s, "Loopback app", rc.URL+"/private")
	br := s.browser()
	id := app.login(t, br, s.user(t, storage.RoleUser), []string{"openid"}, nil).RawIDToken
	start := time.Now()
	p := br.get(t, claim(discovery(t, s), "end_session_endpoint")+"?"+url.Values{"id_token_hint": {id}}.Encode())
	if p.Status != http.StatusOK || time.Since(start) > 5*time.Second {
		t.Fatalf("sign-out: %d after %v", p.Status, time.Since(start))
	}
	rc.wait(t, "/private", 0, 3*time.Second)
	if logs := s.logs.String(); !strings.Contains(logs, "back-channel logout not delivered") || !strings.Contains(logs, "private") || strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("want one line saying the private address was refused, no ERROR:\n%s", logs)
	}
}

func TestBackchannelLogoutAcrossSignInsInOneBrowser(t *testing.T) {
	s, rc := startServer(t, allowPrivate), newReceiver(t)
	appA := backchannelClient(t, s, "App A", rc.URL+"/a")
	appB := backchannelClient(t, s, "App B", rc.URL+"/b")
	scopes := []string{"openid", "email"}
	u, other := s.user(t, storage.RoleUser), s.user(t, storage.RoleUser)
	br := s.browser()
	idA := appA.login(t, br, u, scopes, nil).RawIDToken

	t.Run("case=signing in again keeps the apps signed in, with the sid they know", func(t *testing.T) {
		idB := appB.login(t, br, u, scopes, map[string]string{"prompt": "login"}).RawIDToken
		_, a := s.verifyJWT(t, idA)
		_, b := s.verifyJWT(t, idB)
		if a["sid"] == b["sid"] {
			t.Fatal("a new sign-in kept the session ID")
		}
		time.Sleep(time.Second)
		rc.wait(t, "/a", 0, 0)
		br.get(t, claim(discovery(t, s), "end_session_endpoint")+"?"+url.Values{"id_token_hint": {idB}}.Encode())
		checkLogoutToken(t, s, rc.wait(t, "/a", 1, 10*time.Second)[0].Token, appA.client.ID, idA)
		checkLogoutToken(t, s, rc.wait(t, "/b", 1, 10*time.Second)[0].Token, appB.client.ID, idB)
	})
	t.Run("case=another user signing in on the browser ends the first one's apps", func(t *testing.T) {
		idA := appA.login(t, br, u, scopes, nil).RawIDToken
		appB.login(t, br, other, scopes, map[string]string{"prompt": "login"})
		checkLogoutToken(t, s, rc.wait(t, "/a", 2, 10*time.Second)[1].Token, appA.client.ID, idA)
	})
}

func TestBackchannelLogoutGivesUpOnAHangingAppWithoutSlowingTheUser(t *testing.T) {
	s, rc := startServer(t, allowPrivate), newReceiver(t)
	release := make(chan struct{})
	rc.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	app := backchannelClient(t, s, "Hanging app", rc.URL+"/hang")
	br := s.browser()
	id := app.login(t, br, s.user(t, storage.RoleUser), []string{"openid"}, nil).RawIDToken
	start := time.Now()
	p := br.get(t, claim(discovery(t, s), "end_session_endpoint")+"?"+url.Values{"id_token_hint": {id}}.Encode())
	if p.Status != http.StatusOK || time.Since(start) > 2*time.Second {
		t.Fatalf("sign-out: %d after %v, want it at once", p.Status, time.Since(start))
	}
	deadline := time.Now().Add(backchannel.Timeout + 5*time.Second)
	for !strings.Contains(s.logs.String(), "back-channel logout not delivered") {
		if time.Now().After(deadline) {
			t.Fatalf("no attempt timed out within %v:\n%s", backchannel.Timeout+5*time.Second, s.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestBackchannelLogoutWhenASessionIsEndedFromTheAccountPage(t *testing.T) {
	s, rc := startServer(t, allowPrivate), newReceiver(t)
	app := backchannelClient(t, s, "App A", rc.URL+"/a")
	silent := backchannelClient(t, s, "App C", "")
	u := s.user(t, storage.RoleUser)
	phone, laptop := s.browser(), s.browser()
	id := app.login(t, phone, u, []string{"openid"}, nil).RawIDToken
	silent.login(t, laptop, u, []string{"openid"}, nil)

	p := laptop.get(t, s.URL+"/account")
	if p := laptop.submit(t, p.formWith(t, "session"), nil, [2]string{}); p.Status != http.StatusSeeOther && p.Status != http.StatusOK {
		t.Fatalf("end the phone's session: %d", p.Status)
	}
	checkLogoutToken(t, s, rc.wait(t, "/a", 1, 10*time.Second)[0].Token, app.client.ID, id)
}
