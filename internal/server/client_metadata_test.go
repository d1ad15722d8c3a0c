package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latch-idp/latch/storage"
)

// docHost serves Client ID Metadata Documents over TLS on loopback and
// counts the fetches. latch reaches it only through the test transport
// (Config.ClientMetadataTransport): its own refuses loopback.
type docHost struct {
	*httptest.Server
	fetches atomic.Int32
	mu      sync.Mutex
	docs    map[string]map[string]any // by path
}

func startDocHost(t *testing.T) *docHost {
	t.Helper()
	h := &docHost{docs: map[string]map[string]any{}}
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fetches.Add(1)
		h.mu.Lock()
		doc, ok := h.docs[r.URL.Path]
		h.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=600")
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(h.Close)
	return h
}

// host is the host (with port) latch shows for the documents.
func (h *docHost) host() string { return strings.TrimPrefix(h.URL, "https://") }

// publish serves a public client's document at path and returns the
// client, its client_id being the document's URL.
func (h *docHost) publish(s *testServer, path string) *relyingParty {
	return h.publishFor(s, path, "https://doc-app.example.com/callback")
}

// publishFor is publish with the client's redirect URI.
func (h *docHost) publishFor(s *testServer, path, redirect string) *relyingParty {
	id := h.URL + path
	h.mu.Lock()
	h.docs[path] = map[string]any{
		"client_id": id, "client_name": "Doc App", "redirect_uris": []string{redirect},
		"grant_types": []string{"authorization_code", "refresh_token"}, "token_endpoint_auth_method": "none",
	}
	h.mu.Unlock()
	return &relyingParty{s: s, client: storage.Client{ID: id, TokenEndpointAuthMethod: storage.AuthMethodNone, RedirectURIs: []string{redirect}},
		conf: &oauth2.Config{ClientID: id, RedirectURL: redirect, Endpoint: oauth2.Endpoint{
			AuthURL: s.URL + "/oauth2/auth", TokenURL: s.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams,
		}}}
}

// startWithDocuments is a latch that resolves documents from hosts,
// reaching h through the test transport.
func startWithDocuments(t *testing.T, h *docHost, hosts ...string) *testServer {
	t.Helper()
	return startServer(t, func(c *Config) {
		c.ClientMetadataHosts = hosts
		c.ClientMetadataTransport = h.Client().Transport
	})
}

var identityScopes = []string{"openid", "profile", "email"}

// TestClientMetadataDocumentCodeFlow pins the whole flow of a client
// identified by its document: the consent page names its host and says it
// is not registered, every time; code + PKCE gives tokens for the URL
// client_id, and no refresh token; the document is fetched once.
func TestClientMetadataDocumentCodeFlow(t *testing.T) {
	h := startDocHost(t)
	s := startWithDocuments(t, h, "127.0.0.1")
	rp := h.publish(s, "/oauth/client.json")
	u := s.user(t, storage.RoleUser)
	b := s.browser()

	ar := rp.authURL(identityScopes, nil)
	res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword})
	if !res.SawConsent {
		t.Fatalf("no consent page; stopped at %s (%d)", res.Last.URL, res.Last.Status)
	}
	for _, want := range []string{"<strong>" + h.host() + "</strong> wants to access your account",
		"This application is not registered with " + s.URL, "identified by its web address", "Continue only if you trust it"} {
		if !strings.Contains(res.Last.Body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}

	// Consent is asked again (never remembered), and the code flow ends.
	ar = rp.authURL(identityScopes, nil)
	res = b.authorize(t, ar.URL, flowSteps{Consent: "allow"})
	mustEqual(t, "consent page shown again", res.SawConsent, true)
	tok := rp.exchange(t, res.code(t, s, ar.State), ar)
	mustEqual(t, "ID token email", claim(tok.Claims, "email"), u.Email)
	mustEqual(t, "ID token azp", claim(tok.Claims, "azp"), rp.client.ID)
	mustEqual(t, "refresh token", tok.RefreshToken, "")
	mustEqual(t, "introspected client_id", claim(s.introspect(t, tok.AccessToken), "client_id"), rp.client.ID)
	mustEqual(t, "document fetches", h.fetches.Load(), int32(1))
	mustEqual(t, "discovery client_id_metadata_document_supported", discovery(t, s)["client_id_metadata_document_supported"], any(true))
}

func TestClientMetadataDocumentRequiresPKCE(t *testing.T) {
	h := startDocHost(t)
	s := startWithDocuments(t, h, "127.0.0.1")
	rp := h.publish(s, "/client.json")
	ar := rp.authURL(identityScopes, map[string]string{"code_challenge": "", "code_challenge_method": ""})
	q := s.browser().authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State)
	mustEqual(t, "error without PKCE", q.Get("error"), "invalid_request")
}

func TestClientMetadataDocumentGetsNoOfflineAccess(t *testing.T) {
	h := startDocHost(t)
	s := startWithDocuments(t, h, "127.0.0.1")
	rp := h.publish(s, "/client.json")
	ar := rp.authURL([]string{"openid", "offline_access"}, nil)
	q := s.browser().authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State)
	mustEqual(t, "error for offline_access", q.Get("error"), "invalid_scope")
}

func TestClientMetadataDocumentPushedRequest(t *testing.T) {
	h := startDocHost(t)
	s := startWithDocuments(t, h, "127.0.0.1")
	rp := h.publish(s, "/client.json")
	ar := rp.authURL(identityScopes, nil)
	form := mustURL(t, ar.URL).Query()
	status, body := s.post(t, "/oauth2/par", postOpt{form: form})
	if status != http.StatusCreated || claim(body, "request_uri") == "" {
		t.Fatalf("PAR: %s", describe(status, body))
	}
	u := s.user(t, storage.RoleUser)
	authURL := s.URL + "/oauth2/auth?" + url.Values{"client_id": {rp.client.ID}, "request_uri": {claim(body, "request_uri")}}.Encode()
	res := s.browser().authorize(t, authURL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"})
	rp.exchange(t, res.code(t, s, ar.State), ar)
}

// refusedClient wants an https client_id to be unknown to s without a
// fetch: an error page at the authorization endpoint, invalid_client at
// the token endpoint.
func refusedClient(t *testing.T, s *testServer, h *docHost) {
	t.Helper()
	rp := h.publish(s, "/client.json")
	ar := rp.authURL(identityScopes, nil)
	res := s.browser().authorize(t, ar.URL, flowSteps{})
	if res.Callback != nil || res.Last.Status != http.StatusBadRequest || !strings.Contains(res.Last.Body, "does not exist") {
		t.Errorf("authorize: want the error page for an unknown client, got %d %s", res.Last.Status, res.Callback)
	}
	status, body := rp.tokenRequest(t, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {rp.conf.RedirectURL}, "code_verifier": {ar.Verifier}})
	mustEqual(t, "token endpoint error", oauthError(body), "invalid_client")
	mustEqual(t, "token endpoint status", status, http.StatusUnauthorized)
	mustEqual(t, "document fetches", h.fetches.Load(), int32(0))
}

func TestClientMetadataDocumentsOffByDefault(t *testing.T) {
	h := startDocHost(t)
	s := startServer(t, func(c *Config) { c.ClientMetadataTransport = h.Client().Transport })
	refusedClient(t, s, h)
	if _, ok := discovery(t, s)["client_id_metadata_document_supported"]; ok {
		t.Error("discovery advertises client metadata documents while they are off")
	}
}

func TestClientMetadataDocumentHostOffTheList(t *testing.T) {
	h := startDocHost(t)
	refusedClient(t, startWithDocuments(t, h, "app.example.com"), h)
}
