package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/rs"
	"github.com/latch-idp/latch/web/webtest"
)

// TestBrowserNewClientReachesAnAPI walks the path a new client of an API
// takes knowing nothing but the API's address, as an MCP client does: the
// API answers 401 naming its metadata (RFC 9728), which names latch, whose
// metadata (RFC 8414) names the registration endpoint; the client
// registers (RFC 7591) — or is identified by a metadata document it
// serves — signs a user in with code + PKCE and the resource parameter in
// Chromium, and calls the API. A token for another API is refused there.
func TestBrowserNewClientReachesAnAPI(t *testing.T) {
	docs := startDocHost(t)
	s := startServer(t, func(c *Config) {
		c.ClientRegistration = registration.Open
		c.ClientMetadataHosts = []string{"127.0.0.1"}
		c.ClientMetadataTransport = docs.Client().Transport
	})
	api := startMCPAPI(t, s)
	app := startCallbackApp(t)
	ctx := webtest.Browser(t)
	email := s.user(t, "user").Email

	t.Run("case=registered by RFC 7591", func(t *testing.T) {
		as := discoverFromAPI(t, api)
		status, reg, _ := s.registrationCall(t, http.MethodPost, claim(as, "registration_endpoint"), "", map[string]any{
			"client_name": "MCP client", "redirect_uris": []string{app.URL + "/callback"},
			"token_endpoint_auth_method": "none", "scope": "openid mcp:tools",
		})
		if status != http.StatusCreated {
			t.Fatalf("register: %s", describe(status, reg))
		}
		token := signInForAPI(t, ctx, app, as, claim(reg, "client_id"), api.resource, email)
		api.mustAnswer(t, token, http.StatusOK)
	})
	t.Run("case=identified by a Client ID Metadata Document", func(t *testing.T) {
		as := discoverFromAPI(t, api)
		if as["client_id_metadata_document_supported"] != true {
			t.Fatal("latch does not advertise metadata documents")
		}
		rp := docs.publishFor(s, "/mcp-client.json", app.URL+"/callback")
		docs.mu.Lock()
		docs.docs["/mcp-client.json"]["scope"] = "openid mcp:tools"
		docs.mu.Unlock()
		token := signInForAPI(t, ctx, app, as, rp.client.ID, api.resource, "") // signed in by the case before
		api.mustAnswer(t, token, http.StatusOK)
	})
	t.Run("case=a token for another API is refused", func(t *testing.T) {
		api.mustAnswer(t, ccToken(t, s.rs, "api:read"), http.StatusUnauthorized)
	})
}

// mcpAPI is an API guarded by rs, on loopback, registered with latch as a
// resource that owns the scope mcp:tools.
type mcpAPI struct {
	*httptest.Server
	resource string
}

func startMCPAPI(t *testing.T, s *testServer) *mcpAPI {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	api := &mcpAPI{Server: srv, resource: "http://" + srv.Listener.Addr().String() + "/mcp"}
	s.resource(t, resources.Metadata{Resource: api.resource, Name: "Tools API", Scopes: []string{"mcp:tools"}})
	v, err := rs.New(t.Context(), rs.Config{Issuer: s.URL, Audience: api.resource, Scopes: []string{"mcp:tools"}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+v.MetadataPath(), v.MetadataHandler())
	mux.Handle("GET /mcp", v.RequireUser(v.RequireScope("mcp:tools")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := rs.ClaimsFrom(r.Context())
		fmt.Fprintf(w, `{"user":%q}`, c.Subject)
	}))))
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return api
}

// mustAnswer calls the API with token and checks the status.
func (a *mcpAPI) mustAnswer(t *testing.T, token string, want int) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, a.resource, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("API answered %d (%s), want %d", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
	}
}

var resourceMetadataParam = regexp.MustCompile(`resource_metadata="([^"]+)"`)

// discoverFromAPI starts from the API's 401 and returns latch's
// authorization server metadata.
func discoverFromAPI(t *testing.T, api *mcpAPI) map[string]any {
	t.Helper()
	resp, err := http.Get(api.resource)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	challenge := resp.Header.Get("WWW-Authenticate")
	m := resourceMetadataParam.FindStringSubmatch(challenge)
	if resp.StatusCode != http.StatusUnauthorized || m == nil || strings.Contains(challenge, "error=") {
		t.Fatalf("API without a token: %d %q", resp.StatusCode, challenge)
	}
	prm := getJSON(t, m[1])
	servers := toStrings(prm["authorization_servers"])
	if claim(prm, "resource") != api.resource || len(servers) != 1 {
		t.Fatalf("protected resource metadata: %v", prm)
	}
	as := getJSON(t, servers[0]+"/.well-known/oauth-authorization-server")
	if claim(as, "issuer") != servers[0] || !contains(as["code_challenge_methods_supported"], "S256") {
		t.Fatalf("authorization server metadata: %v", as)
	}
	return as
}

func getJSON(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return out
}

// callbackApp is the client's redirect URI: it hands codes to the test.
type callbackApp struct {
	*httptest.Server
	codes chan url.Values
}

func startCallbackApp(t *testing.T) *callbackApp {
	t.Helper()
	a := &callbackApp{codes: make(chan url.Values, 1)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r) // the browser also asks for a favicon
			return
		}
		select {
		case a.codes <- r.URL.Query():
		default: // a second callback: the test sees the first
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><p id="done">back at the client</p>`)
	}))
	t.Cleanup(a.Close)
	return a
}

// signInForAPI runs code + PKCE with the resource parameter in the
// browser, as the user (email empty: signed in already), consenting, and
// returns the access token.
func signInForAPI(t *testing.T, ctx context.Context, app *callbackApp, as map[string]any, clientID, resource, email string) string {
	t.Helper()
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: app.URL + "/callback", Scopes: []string{"openid", "mcp:tools"},
		Endpoint: oauth2.Endpoint{AuthURL: claim(as, "authorization_endpoint"), TokenURL: claim(as, "token_endpoint"), AuthStyle: oauth2.AuthStyleInParams}}
	verifier, state := oauth2.GenerateVerifier(), randString(12)
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", resource))
	const wait = 20 * time.Second
	webtest.Do(ctx, t, wait, chromedp.Navigate(authURL))
	if email != "" {
		webtest.Do(ctx, t, wait,
			chromedp.WaitVisible(css(`input[name=email][autocomplete=username]`)),
			chromedp.SendKeys(css(`input[name=email]`), email),
			chromedp.SendKeys(css(`input[name=password][autocomplete=current-password]`), testPassword),
			chromedp.Click(css(`button[type=submit]`)),
		)
	}
	webtest.Do(ctx, t, wait, chromedp.WaitVisible(css(`button[name=decision][value=allow]`)))
	if page := webtest.Get(ctx, t, wait, chromedp.Text(css("main"))); !strings.Contains(page, "Tools API") {
		t.Errorf("the consent page does not name the API:\n%s", page)
	}
	webtest.Do(ctx, t, wait, chromedp.Click(css(`button[name=decision][value=allow]`)), chromedp.WaitVisible(css(`#done`)))
	var q url.Values
	select {
	case q = <-app.codes:
	case <-time.After(wait):
		t.Fatal("the client got no callback")
	}
	if q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("callback: %v", q)
	}
	tok, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", resource))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok.AccessToken
}
