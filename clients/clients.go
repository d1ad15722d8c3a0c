// Package clients turns RFC 7591 client metadata into registered clients
// and back. It checks metadata strictly, so that what the protocol layer
// later trusts — exact redirect URIs, allowed grants — is sound from the
// start. It generates client secrets and hands them out once; only their
// keyed hash is kept.
package clients

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
)

// SecretPurpose is the keyed-hash purpose of client secrets; provider
// verifies with the same.
const SecretPurpose = "client-secret"

// Metadata is a client's registration, with RFC 7591 names.
type Metadata struct {
	ClientID                string   `json:"client_id,omitempty"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris"`
	FirstParty              bool     `json:"first_party"`
	// OpenID Connect Back-Channel Logout 1.0: where latch posts a logout
	// token when a session the client took part in ends, and whether the
	// token must carry the session's sid.
	BackchannelLogoutURI             string `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired bool   `json:"backchannel_logout_session_required,omitempty"`
	// DPoPBoundAccessTokens (RFC 9449 section 5.2): the client always
	// proves possession of a key, and gets only DPoP-bound access tokens.
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens,omitempty"`
	// IDTokenSignedResponseAlg (OpenID Connect Dynamic Client Registration)
	// is the algorithm of the client's ID tokens and logout tokens: RS256
	// or ES256; empty for the server's (LATCH_ID_TOKEN_ALG).
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`
	// MinimumACRValue is the authentication context class every sign-in
	// to the client must reach: "phr" (a passkey) or "phrh" (a passkey
	// bound to one device); empty for none.
	MinimumACRValue string `json:"minimum_acr_value,omitempty"`
	// For private_key_jwt (RFC 7523): the client's public keys, inline or
	// by URL, and the algorithm of its assertions (RS256 or ES256).
	JWKS                        json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                     string          `json:"jwks_uri,omitempty"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg,omitempty"`
	CreatedAt                   int64           `json:"client_id_issued_at,omitempty"`
	SecretExpiresAt             *int64          `json:"client_secret_expires_at,omitempty"`
	// For a client that registered itself (RFC 7592): where and with what
	// it manages its registration. Never read from a request.
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string `json:"registration_client_uri,omitempty"`
}

// Grant types (RFC 7591 names). They are named here, where a client's
// grants are validated; the token endpoint and discovery serve GrantTypes.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	// GrantDeviceCode is the device authorization grant (RFC 8628), for
	// apps on devices without a browser or keyboard to speak of.
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

// GrantTypes lists every grant type latch serves, in the order discovery
// shows them.
func GrantTypes() []string {
	return []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantDeviceCode}
}

// AuthMethods lists every token endpoint authentication method latch
// accepts (storage names them), in the order discovery shows them.
func AuthMethods() []string {
	return []string{storage.AuthMethodBasic, storage.AuthMethodPost, storage.AuthMethodPrivateKeyJWT, storage.AuthMethodNone}
}

// AssertionAlgs lists the algorithms of the client assertions latch accepts
// (private_key_jwt, RFC 7523), in the order discovery shows them.
func AssertionAlgs() []string { return keys.Algorithms() }

// New validates m and builds the client to store. For a confidential client
// it returns the generated secret, which is shown once.
func New(m Metadata, box *secret.Box) (storage.Client, string, error) {
	if err := Validate(&m); err != nil {
		return storage.Client{}, "", err
	}
	if m.ClientID == "" {
		m.ClientID = NewID()
	}
	c := fromMetadata(m)
	var sec string
	if c.TokenEndpointAuthMethod == storage.AuthMethodBasic || c.TokenEndpointAuthMethod == storage.AuthMethodPost {
		sec, c.SecretHash = NewSecret(box)
	}
	return c, sec, nil
}

// NewID returns a new random client_id. It never starts with "-", which a
// command line would take for a flag (latch clients get ID).
func NewID() string {
	for {
		if id := randomString(16); id[0] != '-' {
			return id
		}
	}
}

// fromMetadata is the stored form of validated metadata, without secrets.
func fromMetadata(m Metadata) storage.Client {
	now := time.Now().UTC()
	return storage.Client{
		ID:                               m.ClientID,
		Name:                             m.ClientName,
		RedirectURIs:                     m.RedirectURIs,
		GrantTypes:                       m.GrantTypes,
		ResponseTypes:                    m.ResponseTypes,
		Scopes:                           strings.Fields(m.Scope),
		TokenEndpointAuthMethod:          m.TokenEndpointAuthMethod,
		PostLogoutRedirectURIs:           m.PostLogoutRedirectURIs,
		FirstParty:                       m.FirstParty,
		MinimumACR:                       m.MinimumACRValue,
		BackchannelLogoutURI:             m.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired: m.BackchannelLogoutSessionRequired,
		DPoPBoundAccessTokens:            m.DPoPBoundAccessTokens,
		IDTokenSignedResponseAlg:         m.IDTokenSignedResponseAlg,
		JWKS:                             string(m.JWKS),
		JWKSURI:                          m.JWKSURI,
		TokenEndpointAuthSigningAlg:      m.TokenEndpointAuthSigningAlg,
		CreatedAt:                        now,
		UpdatedAt:                        now,
	}
}

// NewSecret generates a client secret (256 bits from crypto/rand) and its
// keyed hash.
func NewSecret(box *secret.Box) (string, []byte) {
	s := randomString(32)
	return s, box.Hash(SecretPurpose, []byte(s))
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Validate checks m and fills defaults: grant_types [authorization_code],
// response_types [code], token_endpoint_auth_method client_secret_basic,
// scope "openid".
func Validate(m *Metadata) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fieldError(fmt.Sprintf(format, a...))) }
	if m.ClientSecret != "" {
		bad("client_secret: latch generates secrets; leave it out")
	}
	if m.ClientID != "" && !storage.ValidClientID(m.ClientID) {
		bad("client_id: use at most 128 characters, without spaces, ':', '/', '?' or '#'")
	}
	if m.IDTokenSignedResponseAlg != "" && !slices.Contains(keys.Algorithms(), m.IDTokenSignedResponseAlg) {
		bad("id_token_signed_response_alg: %q is not supported (use %s)", m.IDTokenSignedResponseAlg, strings.Join(keys.Algorithms(), " or "))
	}
	if m.MinimumACRValue != "" && !slices.Contains(passkey.ACRValues, m.MinimumACRValue) {
		bad("minimum_acr_value: %q is not an acr value latch can reach (use %s)", m.MinimumACRValue, strings.Join(passkey.ACRValues, " or "))
	}
	if len(m.GrantTypes) == 0 {
		m.GrantTypes = []string{GrantAuthorizationCode}
	}
	for _, g := range m.GrantTypes {
		if !slices.Contains(GrantTypes(), g) {
			bad("grant_types: %q is not supported (use %s)", g, strings.Join(GrantTypes(), ", "))
		}
	}
	code := slices.Contains(m.GrantTypes, GrantAuthorizationCode)
	if len(m.ResponseTypes) == 0 && code {
		m.ResponseTypes = []string{"code"}
	}
	for _, rt := range m.ResponseTypes {
		if rt != "code" {
			bad("response_types: %q is not supported (only \"code\")", rt)
		}
	}
	if m.TokenEndpointAuthMethod == "" {
		m.TokenEndpointAuthMethod = storage.AuthMethodBasic
	}
	if !slices.Contains(AuthMethods(), m.TokenEndpointAuthMethod) {
		bad("token_endpoint_auth_method: %q is not supported (use %s)", m.TokenEndpointAuthMethod, strings.Join(AuthMethods(), ", "))
	}
	checkClientKeys(m, bad)
	if m.TokenEndpointAuthMethod == storage.AuthMethodNone && slices.Contains(m.GrantTypes, GrantClientCredentials) {
		bad("grant_types: a public client (token_endpoint_auth_method none) cannot use client_credentials")
	}
	if code && len(m.RedirectURIs) == 0 {
		bad("redirect_uris: required for the authorization_code grant")
	}
	if m.Scope == "" {
		m.Scope = "openid"
	}
	for _, u := range m.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			bad("redirect_uris: %v", err)
		}
	}
	for _, u := range m.PostLogoutRedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			bad("post_logout_redirect_uris: %v", err)
		}
	}
	if m.BackchannelLogoutURI != "" {
		if err := checkBackchannelURI(m.BackchannelLogoutURI); err != nil {
			bad("backchannel_logout_uri: %v", err)
		}
	} else if m.BackchannelLogoutSessionRequired {
		bad("backchannel_logout_session_required: needs a backchannel_logout_uri")
	}
	return errors.Join(errs...)
}

// checkClientKeys checks the keys of a private_key_jwt client, and that
// other clients register none.
func checkClientKeys(m *Metadata, bad func(string, ...any)) {
	hasJWKS := len(m.JWKS) > 0 && string(m.JWKS) != "null"
	if m.TokenEndpointAuthMethod != storage.AuthMethodPrivateKeyJWT {
		if hasJWKS || m.JWKSURI != "" || m.TokenEndpointAuthSigningAlg != "" {
			bad("jwks, jwks_uri and token_endpoint_auth_signing_alg are for token_endpoint_auth_method private_key_jwt")
		}
		return
	}
	if m.TokenEndpointAuthSigningAlg == "" {
		m.TokenEndpointAuthSigningAlg = keys.RS256
	}
	if !slices.Contains(AssertionAlgs(), m.TokenEndpointAuthSigningAlg) {
		bad("token_endpoint_auth_signing_alg: %q is not supported (use %s)", m.TokenEndpointAuthSigningAlg, strings.Join(AssertionAlgs(), " or "))
		return
	}
	switch {
	case hasJWKS == (m.JWKSURI != ""):
		bad("jwks, jwks_uri: a private_key_jwt client registers exactly one of them")
	case hasJWKS:
		if err := keys.CheckClientKeySet(m.JWKS, m.TokenEndpointAuthSigningAlg); err != nil {
			bad("jwks: %v", err)
		}
	default:
		u, err := url.Parse(m.JWKSURI)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			bad("jwks_uri: %q must be an https URL", m.JWKSURI)
		}
	}
}

// checkRedirectURI accepts absolute URIs without a fragment: https, http
// only on a loopback host (RFC 8252), or a private-use scheme of a native
// app (containing a dot, RFC 8252 section 7.1).
func checkRedirectURI(raw string) error {
	u, err := parseAbsolute(raw)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("%q has no host", raw)
		}
	case "http":
		if !loopbackHost(u.Hostname()) {
			return fmt.Errorf("%q: plain http is allowed only on a loopback host", raw)
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return fmt.Errorf("%q: use https, loopback http, or a reverse-domain private scheme", raw)
		}
	}
	return nil
}

// parseAbsolute parses a URI a client registers: absolute, without a
// fragment or user information.
func parseAbsolute(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || len(raw) > 2000 {
		return nil, fmt.Errorf("%q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, fmt.Errorf("%q must not contain a fragment", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%q must not contain user information", raw)
	}
	return u, nil
}

// checkBackchannelURI accepts where a logout token may be posted: an
// absolute https URL, or http on a loopback host, without a fragment or
// user information (OpenID Connect Back-Channel Logout 1.0, section 2.2).
// Where its host resolves to is checked at each delivery (package
// backchannel), as a name may point elsewhere later.
func checkBackchannelURI(raw string) error {
	u, err := parseAbsolute(raw)
	if err != nil {
		return err
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("%q has no host", raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%q: plain http is allowed only on a loopback host", raw)
	}
	return fmt.Errorf("%q: use https (or http on a loopback host)", raw)
}

// loopbackHost reports whether host names this machine: localhost or a
// loopback address.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ToMetadata describes a stored client (without any secret).
func ToMetadata(c storage.Client) Metadata {
	var jwks json.RawMessage
	if c.JWKS != "" {
		jwks = json.RawMessage(c.JWKS)
	}
	return Metadata{
		JWKS:                             jwks,
		ClientID:                         c.ID,
		ClientName:                       c.Name,
		RedirectURIs:                     nonNil(c.RedirectURIs),
		GrantTypes:                       nonNil(c.GrantTypes),
		ResponseTypes:                    nonNil(c.ResponseTypes),
		Scope:                            strings.Join(c.Scopes, " "),
		TokenEndpointAuthMethod:          c.TokenEndpointAuthMethod,
		PostLogoutRedirectURIs:           nonNil(c.PostLogoutRedirectURIs),
		FirstParty:                       c.FirstParty,
		MinimumACRValue:                  c.MinimumACR,
		BackchannelLogoutURI:             c.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
		DPoPBoundAccessTokens:            c.DPoPBoundAccessTokens,
		IDTokenSignedResponseAlg:         c.IDTokenSignedResponseAlg,
		JWKSURI:                          c.JWKSURI,
		TokenEndpointAuthSigningAlg:      c.TokenEndpointAuthSigningAlg,
		CreatedAt:                        c.CreatedAt.Unix(),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// LoopbackRedirectMatch reports whether requested matches registered
// under RFC 8252 section 7.3's exception for native apps: registered is a
// plain-http loopback URI (127.0.0.1, [::1] or localhost) and requested is
// the same URI on any port. The exception never covers https or another
// host, path or query.
func LoopbackRedirectMatch(registered, requested string) bool {
	reg, err1 := url.Parse(registered)
	req, err2 := url.Parse(requested)
	if err1 != nil || err2 != nil || reg.Scheme != "http" || req.Scheme != "http" || reg.User != nil || req.User != nil {
		return false
	}
	host := reg.Hostname()
	if !loopbackHost(host) {
		return false
	}
	return host == req.Hostname() && reg.Path == req.Path && reg.RawQuery == req.RawQuery && reg.Fragment == "" && req.Fragment == ""
}
