// The end-to-end tests of the examples: latch (a real one, on PostgreSQL
// and Redis) and the three examples, each on an httptest server and wired
// as `make demo` wires them, driven in headless Chromium. This file is
// their harness; spa_test.go, api_test.go and webapp_test.go the cases.
package examples_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/latch-idp/latch/examples/api"
	"github.com/latch-idp/latch/examples/spa"
	"github.com/latch-idp/latch/examples/webapp"
	"github.com/latch-idp/latch/internal/latchtest"
	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/web/webtest"
)

// wait bounds every browser step.
const wait = 20 * time.Second

type css = chromedp.CSS

// demo is latch and the three examples.
type demo struct {
	latch             *latchtest.Latch
	api, spa, webapp  string // base URLs
	spaClientID       string
	apiServer, spaSrv *httptest.Server
	webappServer      *httptest.Server
	browser           context.Context
}

// startDemo starts latch with the SPA's origin among its CORS origins and
// open client registration (as make demo does), registers the demo API
// and the SPA as latch serve --dev does, for the addresses the examples
// get here, and starts the examples and a browser. opts change latch's
// configuration further.
func startDemo(t *testing.T, opts ...func(*server.Config)) *demo {
	t.Helper()
	d := &demo{
		apiServer: httptest.NewUnstartedServer(nil), spaSrv: httptest.NewUnstartedServer(nil),
		webappServer: httptest.NewUnstartedServer(nil),
	}
	d.api, d.spa, d.webapp = baseURL(d.apiServer), baseURL(d.spaSrv), baseURL(d.webappServer)
	d.latch = latchtest.Start(t, func(c *server.Config) {
		c.CORSOrigins = []string{d.spa}
		c.ClientRegistration = registration.Open
		for _, o := range opts {
			o(c)
		}
	})
	d.latch.Resource(t, server.DevAPIResource(d.api))
	spaClient, _ := d.latch.Client(t, server.DevSPAClient(d.spa))
	d.spaClientID = spaClient.ID

	apiHandler, err := api.NewHandler(t.Context(), api.Config{Issuer: d.latch.URL, Resource: d.api, Origins: []string{d.spa}})
	if err != nil {
		t.Fatalf("api: %v", err)
	}
	spaHandler, err := spa.NewHandler(spa.Config{Issuer: d.latch.URL, ClientID: d.spaClientID, API: d.api})
	if err != nil {
		t.Fatalf("spa: %v", err)
	}
	webappHandler, err := webapp.NewHandler(t.Context(), webapp.Config{Issuer: d.latch.URL, URL: d.webapp})
	if err != nil {
		t.Fatalf("webapp: %v", err)
	}
	for srv, h := range map[*httptest.Server]http.Handler{d.apiServer: apiHandler, d.spaSrv: spaHandler, d.webappServer: webappHandler} {
		srv.Config.Handler = h
		srv.Start()
		t.Cleanup(srv.Close)
	}
	d.browser = webtest.Browser(t)
	return d
}

func baseURL(s *httptest.Server) string { return "http://" + s.Listener.Addr().String() }

// signIn fills latch's sign-in page, which tab is on or is being sent to,
// as email with the test password.
func signIn(t *testing.T, tab context.Context, email string) {
	t.Helper()
	webtest.Do(tab, t, wait,
		chromedp.WaitVisible(css(`input[name=email][autocomplete=username]`)),
		chromedp.SetValue(css(`input[name=email]`), email),
		chromedp.SetValue(css(`input[name=password][autocomplete=current-password]`), latchtest.Password),
		chromedp.Click(css(`button[type=submit]`)),
	)
}

// spaSignIn opens the SPA in tab, clicks the sign-in button (#signin, or
// #signin-readonly without api:write) and signs in as email, until the SPA
// shows the user.
func (d *demo) spaSignIn(t *testing.T, tab context.Context, button, email string) {
	t.Helper()
	webtest.Do(tab, t, wait, chromedp.Navigate(d.spa), chromedp.WaitVisible(css(button)), chromedp.Click(css(button)))
	signIn(t, tab, email)
	webtest.Do(tab, t, wait, chromedp.WaitVisible(css(`#user`)))
	if got := text(t, tab, `#user`); !strings.Contains(got, email) {
		t.Fatalf("the SPA shows %q as the user, want %s", got, email)
	}
}

// newTab opens a tab of its own (no cookies, no storage) that closes when
// t ends.
func (d *demo) newTab(t *testing.T) context.Context { return webtest.Tab(d.browser, t) }

// callAPI clicks one of the SPA's API buttons and returns the status the
// API answered and what the SPA shows of the answer.
func callAPI(t *testing.T, tab context.Context, button, call string) (status, answer string) {
	t.Helper()
	done := `#api-status[data-call="` + call + `"][data-status]`
	webtest.Do(tab, t, wait, chromedp.Click(css(button)), chromedp.WaitVisible(css(done)))
	status = webtest.Get(tab, t, wait, chromedp.AttributeValue(css(done), "data-status")).Value
	return status, text(t, tab, `#api-result`)
}

// text is the text of the element sel of the page tab is on.
func text(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	return webtest.Get(tab, t, wait, chromedp.Text(css(sel)))
}

// storedToken is one of the tokens the SPA keeps in sessionStorage.
func storedToken(t *testing.T, tab context.Context, name string) string {
	t.Helper()
	return webtest.Get(tab, t, wait, chromedp.Evaluate[string](
		`(JSON.parse(sessionStorage.getItem("demo-spa:tokens")) || {})["`+name+`"] || ""`))
}

// thiefProof is a DPoP proof for method and target (and the access token,
// when not empty) signed with a key of the test's own, as someone who
// took a token from the page, but not its key, would make.
func thiefProof(t *testing.T, method, target, accessToken string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, &jose.SignerOptions{
		EmbedJWK: true, ExtraHeaders: map[jose.HeaderKey]any{jose.HeaderType: "dpop+jwt"},
	})
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"jti": rand.Text(), "htm": method, "htu": target, "iat": time.Now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

// postForm posts form to target, with a DPoP proof when not empty, and
// returns the status and the RFC 6749 error of the answer.
func postForm(t *testing.T, target string, form url.Values, proof string) (status int, oauthError string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Error string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&answer)
	return resp.StatusCode, answer.Error
}
