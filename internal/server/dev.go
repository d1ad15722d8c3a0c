package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
)

// Demo fixtures of `latch serve --dev`. The ports are those `make demo`
// serves the examples on (examples/): 8081 is left to an app of the
// developer's own, registered as demo-app.
const (
	devAdminEmail    = "admin@example.com"
	devUserEmail     = "user@example.com"
	devAppID         = "demo-app"
	devSPAID         = "demo-spa"
	devServiceID     = "demo-service"
	devAdminCLIID    = "latch-cli"
	devAppRedirect   = "http://localhost:8081/callback"
	devAppPostLogout = "http://localhost:8081/"
	// DevAPI is the demo API resource (examples/api): the audience of
	// tokens for its scopes.
	DevAPI = "http://localhost:8082"
	// DevSPAOrigin is where the demo single-page app (examples/spa) is
	// served; --dev lets it call the token endpoint from the browser.
	DevSPAOrigin = "http://localhost:8083"
)

// DevSPAClient is the demo single-page app's registration, for an app
// served at origin: a public client (PKCE, no secret a browser could not
// keep) and first-party, so the user is not asked to consent, with its
// redirect URI and sign-out return on its own origin. Tests register it
// for the origin they serve the app on.
func DevSPAClient(origin string) clients.Metadata {
	return clients.Metadata{
		ClientID: devSPAID, ClientName: "Demo SPA", RedirectURIs: []string{origin + "/callback"},
		GrantTypes: []string{clients.GrantAuthorizationCode, clients.GrantRefreshToken},
		Scope:      "openid profile email offline_access api:read api:write", FirstParty: true,
		TokenEndpointAuthMethod: storage.AuthMethodNone, PostLogoutRedirectURIs: []string{origin + "/"},
		// Its tokens are bound to a key the browser keeps (DPoP).
		DPoPBoundAccessTokens: true,
	}
}

// DevAPIResource is the demo API's registration, for an API whose
// resource identifier is resource.
func DevAPIResource(resource string) resources.Metadata {
	return resources.Metadata{Resource: resource, Name: "Demo API", Scopes: []string{"api:read", "api:write"}}
}

// DevCORSOrigins returns origins with the demo single-page app's added.
func DevCORSOrigins(origins []string) []string {
	if slices.Contains(origins, DevSPAOrigin) {
		return origins
	}
	return append(origins, DevSPAOrigin)
}

// devFixtures creates the development admin and demo clients and prints
// how to use them. Nothing of it persists.
func (s *Server) devFixtures(ctx context.Context, accts *accounts.Service, box *secret.Box) error {
	pw, userPW := s.devToken("admin password", 12), s.devToken("user password", 12)
	if _, err := accts.Seed(ctx, accounts.NewUser{
		Email: devAdminEmail, Name: "Dev Admin", Role: storage.RoleAdmin, Password: pw,
	}); err != nil {
		return fmt.Errorf("dev admin: %w", err)
	}
	if _, err := accts.Seed(ctx, accounts.NewUser{
		Email: devUserEmail, Name: "Dev User", Role: storage.RoleUser, Password: userPW,
	}); err != nil {
		return fmt.Errorf("dev user: %w", err)
	}
	app, _, err := clients.New(clients.Metadata{
		ClientID: devAppID, ClientName: "Demo App", RedirectURIs: []string{devAppRedirect},
		GrantTypes: []string{clients.GrantAuthorizationCode, clients.GrantRefreshToken}, Scope: "openid profile email offline_access",
		TokenEndpointAuthMethod: storage.AuthMethodNone, PostLogoutRedirectURIs: []string{devAppPostLogout},
	}, box)
	if err != nil {
		return err
	}
	spa, _, err := clients.New(DevSPAClient(DevSPAOrigin), box)
	if err != nil {
		return err
	}
	svc, svcSecret, err := s.devConfidentialClient(clients.Metadata{
		ClientID: devServiceID, ClientName: "Demo Service", GrantTypes: []string{clients.GrantClientCredentials},
		Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic,
	}, box)
	if err != nil {
		return err
	}
	api, err := resources.New(DevAPIResource(DevAPI))
	if err != nil {
		return err
	}
	if err := s.store.CreateResource(ctx, api, storage.Effects{}); err != nil {
		return fmt.Errorf("dev API resource: %w", err)
	}
	for _, c := range []storage.Client{app, spa, svc} {
		if err := s.store.CreateClient(ctx, c); err != nil {
			return fmt.Errorf("dev client: %w", err)
		}
	}
	verifier := randomToken(32)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {devAppID}, "response_type": {"code"}, "scope": {"openid profile email offline_access"},
		"redirect_uri": {devAppRedirect}, "state": {randomToken(12)}, "nonce": {randomToken(12)},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	iss := s.cfg.Issuer
	fmt.Fprintf(s.out, `
  issuer        %s  (discovery: %s/.well-known/openid-configuration)
  admin login   %s / %s
  user login    %s / %s
  demo client   %s (public, PKCE) — open in a browser, sign in, then copy the code from the address bar:
                %s/oauth2/auth?%s
                curl -s %s/oauth2/token -d grant_type=authorization_code -d client_id=%s -d redirect_uri=%s -d code_verifier=%s -d code=CODE
  demo SPA      %s (public, first-party, PKCE) for the app at %s (examples/spa, started by make demo)
  demo API      %s (scopes api:read, api:write; examples/api, started by make demo)
  demo service  %s / %s
                curl -s -u %s:%s %s/oauth2/token -d grant_type=client_credentials -d scope=api:read
  registration  %s/register (open in --dev); emails are printed here

`, iss, iss, devAdminEmail, pw, devUserEmail, userPW, devAppID, iss, q.Encode(), iss, devAppID, url.QueryEscape(devAppRedirect), verifier,
		devSPAID, DevSPAOrigin, DevAPI, devServiceID, svcSecret, devServiceID, svcSecret, iss, iss)
	if err := s.devAdminCLI(ctx, box); err != nil {
		return err
	}
	return s.devClientRegistration(ctx, box)
}

// devAdminCLI registers a client for the CLI's server mode: in --dev the
// store is in memory, out of the CLI's reach, and the admin API is the way
// to manage clients, resources and users.
func (s *Server) devAdminCLI(ctx context.Context, box *secret.Box) error {
	c, sec, err := s.devConfidentialClient(clients.Metadata{
		ClientID: devAdminCLIID, ClientName: "latch CLI", GrantTypes: []string{clients.GrantClientCredentials},
		Scope: resources.AdminScope, TokenEndpointAuthMethod: storage.AuthMethodBasic,
	}, box)
	if err != nil {
		return err
	}
	if err := s.store.CreateClient(ctx, c); err != nil {
		return fmt.Errorf("dev admin CLI client: %w", err)
	}
	fmt.Fprintf(s.out, "  admin console %s/admin (sign in as the admin above)\n  admin CLI     latch --server %s --client-id %s --client-secret %s clients create -f client.json\n\n",
		s.cfg.Issuer, s.cfg.Issuer, devAdminCLIID, sec)
	return nil
}

// devClientRegistration says how clients register themselves, when they
// may. In token mode it makes an initial access token: the CLI that makes
// them in production cannot reach the in-memory store.
func (s *Server) devClientRegistration(ctx context.Context, box *secret.Box) error {
	endpoint := registration.Endpoint(s.cfg.ClientRegistration, s.cfg.Issuer)
	if endpoint == "" {
		return nil
	}
	if s.cfg.ClientRegistration != registration.Token {
		fmt.Fprintf(s.out, "  client registration  open: POST client metadata JSON to %s\n\n", endpoint)
		return nil
	}
	iat, token := registration.NewInitialAccessToken(box, 0, 24*time.Hour)
	if err := s.store.CreateInitialAccessToken(ctx, iat, storage.Effects{}); err != nil {
		return fmt.Errorf("dev initial access token: %w", err)
	}
	fmt.Fprintf(s.out, "  client registration  POST client metadata JSON to %s\n                       with Authorization: Bearer %s (any number of times, for 24h)\n\n", endpoint, token)
	return nil
}

// devConfidentialClient builds a demo client whose secret comes from
// devToken, so that it stays the same across restarts with one dev seed.
func (s *Server) devConfidentialClient(m clients.Metadata, box *secret.Box) (storage.Client, string, error) {
	c, _, err := clients.New(m, box)
	if err != nil {
		return c, "", err
	}
	sec := s.devToken("client secret "+m.ClientID, 32)
	c.SecretHash = box.Hash(clients.SecretPurpose, []byte(sec))
	return c, sec, nil
}

// devToken is a demo credential of n bytes for purpose: derived from
// Config.DevSeed when there is one, so the credentials printed at start
// stay valid across restarts, and random otherwise.
func (s *Server) devToken(purpose string, n int) string {
	if len(s.cfg.DevSeed) == 0 {
		return randomToken(n)
	}
	mac := hmac.New(sha256.New, s.cfg.DevSeed)
	mac.Write([]byte(purpose))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:n])
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
