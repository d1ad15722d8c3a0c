package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/hmac"
	"github.com/ory/fosite/token/jwt"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/telemetry"
	"github.com/latch-idp/latch/web"
)

// Endpoint paths. Discovery advertises them; only discovery and JWKS are
// part of the public contract.
const (
	PathDiscovery = "/.well-known/openid-configuration"
	// PathServerMetadata serves the discovery document as RFC 8414
	// authorization server metadata, for OAuth clients (such as MCP
	// clients) that look there.
	PathServerMetadata = "/.well-known/oauth-authorization-server"
	PathJWKS           = keys.JWKSPath
	PathAuthorize      = "/oauth2/auth"
	PathResume         = "/oauth2/auth/resume"
	PathToken          = "/oauth2/token"
	PathRevoke         = "/oauth2/revoke"
	PathIntrospect     = "/oauth2/introspect"
	PathUserinfo       = "/userinfo"
	PathLogout         = "/oauth2/logout"
	PathPAR            = "/oauth2/par"
	// PathDeviceAuthorization is RFC 8628's device authorization
	// endpoint; PathDevice, the verification page, is part of the public
	// contract (the verification_uri users type).
	PathDeviceAuthorization = "/oauth2/device_authorization"
	PathDevice              = "/device"
)

// Config is what provider is configured with.
type Config struct {
	Issuer             string
	AccessTokenTTL     time.Duration
	IDTokenTTL         time.Duration
	RefreshTokenTTL    time.Duration // absolute lifetime of a refresh token family
	RefreshIdleTTL     time.Duration // a refresh token unused this long expires
	AuthorizeCodeTTL   time.Duration
	RefreshGracePeriod time.Duration
	ReuseRevokes       string // ReuseRevokesFamily or ReuseRevokesUser
	IDTokenAlg         string
	AccessTokenAlg     string
	ClientCacheTTL     time.Duration
	// CORSOrigins may call token, userinfo, revocation and JWKS from a
	// browser.
	CORSOrigins []string
	// AdminAPI is the URL of latch's admin API, a built-in resource
	// owning the scope latch:admin; empty: none.
	AdminAPI string
	// RegistrationEndpoint is advertised in discovery when set (dynamic
	// client registration is open, package registration).
	RegistrationEndpoint string
	// Passkeys are on (package passkey): acr_values and a client's
	// minimum_acr_value ask for them, and discovery lists their acr
	// values.
	Passkeys bool
	// DPoPProofWindow is how far a DPoP proof's iat may lie from latch's
	// clock; DefaultDPoPProofWindow when zero.
	DPoPProofWindow time.Duration
	// DPoPNonce makes latch ask for a server nonce in every DPoP proof
	// (RFC 9449 section 8).
	DPoPNonce bool
	// DeviceCodeTTL is how long a device code and its user code live
	// (RFC 8628 expires_in); 10 minutes when zero.
	DeviceCodeTTL time.Duration
}

// Signers sign and verify latch's JWTs (package keys provides them): each
// signs with the current key of its algorithm and verifies against the key
// a token's kid names.
type Signers struct {
	Access jwt.Signer
	// ID signs the ID tokens of clients that registered no
	// id_token_signed_response_alg (LATCH_ID_TOKEN_ALG); IDByAlg those of
	// clients that did, by algorithm (one for each of keys.Algorithms).
	ID      jwt.Signer
	IDByAlg map[string]jwt.Signer
}

// Verifier verifies the JWTs latch issued: the one verifier of package
// keys, with its rules for algorithms, keys, times, typ and iss.
type Verifier interface {
	Verify(ctx context.Context, token string, opts ...keys.VerifyOption) (header, claims map[string]any, err error)
}

// Pages renders the few pages provider shows itself (package web).
type Pages interface {
	// Problem shows the error page for a problem (web.Problem).
	Problem(w http.ResponseWriter, r *http.Request, status int, p web.Problem)
	// RememberLanguage keeps the language the application asked for
	// (ui_locales) for the pages of the sign-in, and returns r in it.
	RememberLanguage(w http.ResponseWriter, r *http.Request, uiLocales string) *http.Request
	// ConfirmLogout asks the user to confirm signing out; the form posts
	// fields back to the logout endpoint.
	// told names the applications that are told when the session ends
	// (back-channel logout).
	ConfirmLogout(w http.ResponseWriter, r *http.Request, action string, fields map[string]string, told []string)
	// SignedOut tells the user they are signed out, and which
	// applications were told.
	SignedOut(w http.ResponseWriter, r *http.Request, told []string)
	// CSRFValid reports whether a post came from latch's own form.
	CSRFValid(r *http.Request) bool
	// DeviceCode asks for the code a device shows (RFC 8628), with the
	// code typed so far and a problem with it to tell, in the request's
	// language.
	DeviceCode(w http.ResponseWriter, r *http.Request, status int, code, problem string)
	// DeviceDone says that the device's request was approved or denied.
	DeviceDone(w http.ResponseWriter, r *http.Request, approved bool, clientName string)
	// Wrap gives a page what every page needs: security headers, a body
	// limit and the CSRF check.
	Wrap(h http.Handler) http.Handler
}

// Handler serves the protocol endpoints.
type Handler struct {
	cfg      Config
	store    Durable
	volatile Volatile
	flows    *flow.Store
	sessions *session.Store
	pages    Pages
	jwks     http.Handler
	log      *slog.Logger
	metrics  *telemetry.Metrics

	oauth fosite.OAuth2Provider
	// fosite is oauth as it is, for the introspection endpoint, which
	// authenticates its caller itself.
	fosite    *fosite.Fosite
	fstore    *fositeStore
	strategy  *strategy
	idSigner  jwt.Signer
	verifier  Verifier
	resources *resourceCache
	discovery []byte
	// clientDocuments is on when clients may be identified by the URL of a
	// metadata document.
	clientDocuments bool
	userCodes       Attempts
	dpop            *dpopChecker
}

// Deps are the Handler's dependencies.
type Deps struct {
	Store    Durable
	Volatile Volatile // short-lived state (package storage/redis)
	Flows    *flow.Store
	Sessions *session.Store
	Signers  Signers
	Verifier Verifier // package keys' Manager
	Box      *secret.Box
	Pages    Pages
	JWKS     http.Handler // serves the JWK Set (package keys)
	// Revocation ends what a user holds when a refresh token is reused
	// under LATCH_REFRESH_REUSE_REVOKES=user.
	Revocation UserRevoker
	// ClientDocuments resolves clients identified by the URL of a metadata
	// document (LATCH_CLIENT_METADATA_HOSTS); nil leaves every client ID to
	// storage.
	ClientDocuments ClientDocuments
	Log             *slog.Logger
	// Metrics counts tokens issued and refresh token reuse; may be nil.
	Metrics *telemetry.Metrics
	// UserCodeAttempts limits guesses of device user codes, per client
	// address and over all of them (accounts.Attempts).
	UserCodeAttempts Attempts
}

// New composes fosite over the stores and keys.
func New(cfg Config, d Deps) (*Handler, error) {
	store, flows, sessions, signers, box, pages, log := d.Store, d.Flows, d.Sessions, d.Signers, d.Box, d.Pages, d.Log
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	if cfg.IDTokenAlg == "" {
		cfg.IDTokenAlg = "RS256"
	}
	if cfg.AccessTokenAlg == "" {
		cfg.AccessTokenAlg = cfg.IDTokenAlg
	}
	if cfg.AuthorizeCodeTTL == 0 {
		cfg.AuthorizeCodeTTL = 5 * time.Minute
	}
	if cfg.DPoPProofWindow == 0 {
		cfg.DPoPProofWindow = DefaultDPoPProofWindow
	}
	if cfg.DeviceCodeTTL == 0 {
		cfg.DeviceCodeTTL = defaultDeviceCodeTTL
	}
	if d.Revocation == nil || d.UserCodeAttempts == nil {
		return nil, errors.New("provider: Deps.Revocation and Deps.UserCodeAttempts are required")
	}
	refresh := newRefreshPolicy(cfg, d.Revocation, log)
	refresh.metrics = d.Metrics
	secrets := box.Keys("fosite-hmac")
	fcfg := &fosite.Config{
		AccessTokenLifespan:             cfg.AccessTokenTTL,
		RefreshTokenLifespan:            refresh.idle,
		AuthorizeCodeLifespan:           cfg.AuthorizeCodeTTL,
		IDTokenLifespan:                 cfg.IDTokenTTL,
		IDTokenIssuer:                   cfg.Issuer,
		AccessTokenIssuer:               cfg.Issuer,
		TokenURL:                        cfg.Issuer + PathToken,
		EnforcePKCEForPublicClients:     true,
		EnablePKCEPlainChallengeMethod:  false,
		RefreshTokenScopes:              []string{"offline_access"},
		ScopeStrategy:                   fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:        anyAudience,
		AllowedPromptValues:             []string{"none", "login", "consent"},
		GlobalSecret:                    secrets[0],
		RotatedGlobalSecrets:            secrets[1:],
		ClientSecretsHasher:             SecretHasher{Box: box},
		TokenEntropy:                    32,
		MinParameterEntropy:             fosite.MinParameterEntropy,
		PushedAuthorizeRequestURIPrefix: parPrefix,
		PushedAuthorizeContextLifespan:  parLifetime,
		SendDebugMessagesToClients:      false,
	}
	h := &Handler{cfg: cfg, store: store, volatile: d.Volatile, flows: flows, sessions: sessions, pages: pages, jwks: d.JWKS, log: log, metrics: d.Metrics, userCodes: d.UserCodeAttempts}
	d.Metrics.Grants(clients.GrantTypes()...)
	h.resources = &resourceCache{load: withBuiltIn(store.ListResources, cfg.AdminAPI), ttl: cfg.ClientCacheTTL}
	h.dpop = &dpopChecker{window: cfg.DPoPProofWindow, replay: d.Volatile, now: time.Now}
	if cfg.DPoPNonce {
		h.dpop.nonceKeys = box.Keys("dpop-nonce")
	}
	h.clientDocuments = d.ClientDocuments != nil && d.ClientDocuments.Enabled()
	h.fstore = &fositeStore{
		durable:   store,
		volatile:  d.Volatile,
		clients:   newClientCache(store.GetClient, d.ClientDocuments, cfg.ClientCacheTTL),
		refresh:   refresh,
		codeTTL:   2 * cfg.AuthorizeCodeTTL,
		accessTTL: cfg.AccessTokenTTL,
		parTTL:    parLifetime,
	}
	h.strategy = &strategy{
		HMACSHAStrategyUnPrefixed: oauth2.NewHMACSHAStrategyUnPrefixed(&hmac.HMACStrategy{Config: fcfg}, fcfg),
		signer:                    signers.Access,
		verifier:                  d.Verifier,
		issuer:                    cfg.Issuer,
		resources:                 h.resources,
	}
	h.idSigner = signers.ID
	h.verifier = d.Verifier
	idTokens := newIDTokenStrategy(signers, cfg.IDTokenAlg, fcfg)
	h.oauth = compose.Compose(fcfg, h.fstore, &compose.CommonStrategy{
		CoreStrategy:               h.strategy,
		OpenIDConnectTokenStrategy: idTokens,
		Signer:                     h.idSigner,
	},
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory,
		compose.PushedAuthorizeHandlerFactory,
	)
	f, ok := h.oauth.(*fosite.Fosite)
	if !ok {
		return nil, fmt.Errorf("provider: fosite composed a %T", h.oauth)
	}
	// fosite v0.49.0 has no device authorization grant: latch's own
	// handler serves it (device.go).
	fcfg.TokenEndpointHandlers = append(fcfg.TokenEndpointHandlers, &deviceGrant{
		volatile: d.Volatile,
		store:    h.fstore,
		strategy: h.strategy,
		idTokens: &openid.IDTokenHandleHelper{IDTokenStrategy: idTokens},
		config:   fcfg,
	})
	for i, th := range fcfg.TokenEndpointHandlers {
		fcfg.TokenEndpointHandlers[i] = gatedTokenHandler{th}
	}
	// Client authentication reads the accepted assertion audiences from
	// the provider's configuration (assertion.go).
	f.Config = assertionConfig{Config: fcfg, audiences: h.assertionAudiences()}
	h.fosite = f
	disc, err := h.renderDiscovery()
	if err != nil {
		return nil, fmt.Errorf("provider: discovery: %w", err)
	}
	h.discovery = disc
	return h, nil
}

// Mount adds the protocol endpoints to r.
func (h *Handler) Mount(r *mux.Router) {
	cors := newCORS(h.cfg.CORSOrigins)
	r.Handle(PathDiscovery, cors(http.HandlerFunc(h.serveDiscovery))).Methods(http.MethodGet, http.MethodHead, http.MethodOptions)
	r.Handle(PathServerMetadata, cors(http.HandlerFunc(h.serveDiscovery))).Methods(http.MethodGet, http.MethodHead, http.MethodOptions)
	if h.jwks != nil {
		r.Handle(PathJWKS, cors(h.jwks)).Methods(http.MethodGet, http.MethodHead, http.MethodOptions)
	}
	r.HandleFunc(PathAuthorize, h.authorize).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc(PathResume, h.resume).Methods(http.MethodGet)
	r.HandleFunc(PathPAR, h.par).Methods(http.MethodPost)
	r.Handle(PathToken, cors(http.HandlerFunc(h.token))).Methods(http.MethodPost, http.MethodOptions)
	r.Handle(PathRevoke, cors(http.HandlerFunc(h.revoke))).Methods(http.MethodPost, http.MethodOptions)
	r.HandleFunc(PathIntrospect, h.introspect).Methods(http.MethodPost)
	r.Handle(PathUserinfo, cors(http.HandlerFunc(h.userinfo))).Methods(http.MethodGet, http.MethodPost, http.MethodOptions)
	r.HandleFunc(PathLogout, h.logout).Methods(http.MethodGet, http.MethodPost)
	r.Handle(PathDeviceAuthorization, cors(http.HandlerFunc(h.deviceAuthorization))).Methods(http.MethodPost, http.MethodOptions)
	r.Handle(PathDevice, h.pages.Wrap(http.HandlerFunc(h.device))).Methods(http.MethodGet, http.MethodHead, http.MethodPost)
}

// logError logs an unexpected error without its request's secrets.
func (h *Handler) logError(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil {
		// The client went away (or the server is stopping) mid-request:
		// what failed is the answer nobody waits for, not latch.
		h.log.InfoContext(ctx, msg+": request ended before its answer", "err", err)
		return
	}
	h.log.ErrorContext(ctx, msg, "err", err)
}
