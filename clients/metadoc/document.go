package metadoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/storage"
)

// maxNameLength bounds client_name, which the consent page shows.
const maxNameLength = 100

// defaultScope is a document's scope when it names none: the user's own
// identity, name and email (each request still asks, and the user
// consents).
const defaultScope = "openid profile email"

// Validate checks the metadata document fetched from clientID and returns
// the client latch uses for it. Beyond RFC 7591 and latch's rules for
// every client (clients.Validate: redirect URIs, response types, keys):
//
//   - the document's client_id is its URL, exactly;
//   - no client_secret or client_secret_expires_at: no secret can be
//     shared through a public document;
//   - token_endpoint_auth_method is none (the default here: a public
//     client, so PKCE is required) or private_key_jwt with jwks or
//     jwks_uri; the shared-secret methods are refused;
//   - grant_types are authorization_code, optionally refresh_token;
//   - never first_party: consent is always asked;
//   - scope: OpenID Connect's and APIs' scopes, which the user is asked
//     for on every request; never latch:admin; offline_access is
//     tolerated and not granted.
//
// The client latch uses holds no long-lived grant: its grant types are
// authorization_code only and its scopes lack offline_access, so it gets
// no refresh token, and a user's consent is never remembered for it. Both
// would outlive the document in latch's storage, where the account page
// could neither name nor revoke them.
func Validate(clientID string, body []byte) (storage.Client, error) {
	var m clients.Metadata
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return storage.Client{}, fmt.Errorf("the document is not a JSON object of client metadata: %v", err)
	}
	if dec.More() {
		return storage.Client{}, errors.New("the document holds more than one JSON value")
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if m.ClientID != clientID {
		bad("client_id: %q is not the document's URL %q", m.ClientID, clientID)
	}
	if m.ClientSecret != "" || m.SecretExpiresAt != nil {
		bad("client_secret, client_secret_expires_at: a metadata document carries no secret")
	}
	if utf8.RuneCountInString(m.ClientName) > maxNameLength {
		bad("client_name: use at most %d characters", maxNameLength)
	}
	if m.FirstParty {
		bad("first_party: a client identified by a metadata document is never first-party")
	}
	if m.TokenEndpointAuthMethod == "" {
		m.TokenEndpointAuthMethod = storage.AuthMethodNone
	}
	if m.TokenEndpointAuthMethod != storage.AuthMethodNone && m.TokenEndpointAuthMethod != storage.AuthMethodPrivateKeyJWT {
		bad("token_endpoint_auth_method: %q is not available to a metadata document (use none or private_key_jwt)", m.TokenEndpointAuthMethod)
	}
	if len(m.GrantTypes) == 0 {
		m.GrantTypes = []string{clients.GrantAuthorizationCode}
	}
	if !slices.Contains(m.GrantTypes, clients.GrantAuthorizationCode) {
		bad("grant_types: must include %s", clients.GrantAuthorizationCode)
	}
	for _, g := range m.GrantTypes {
		if g != clients.GrantAuthorizationCode && g != clients.GrantRefreshToken {
			bad("grant_types: %q is not available to a metadata document (use %s, %s)", g, clients.GrantAuthorizationCode, clients.GrantRefreshToken)
		}
	}
	if m.Scope == "" {
		m.Scope = defaultScope
	}
	var scopes []string
	for _, s := range strings.Fields(m.Scope) {
		switch {
		case s == resources.ScopeOfflineAccess:
		case s == resources.AdminScope:
			bad("scope: %q is not available to a metadata document", s)
		default:
			scopes = append(scopes, s)
		}
	}
	// clients.Validate owns the rules every client shares; the URL form
	// of the ID is checked by CheckClientID, not by its rule for
	// registered IDs.
	shared := m
	shared.ClientID = ""
	if err := clients.Validate(&shared); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return storage.Client{}, err
	}
	jwks := string(shared.JWKS)
	if jwks == "null" {
		jwks = ""
	}
	now := time.Now().UTC()
	return storage.Client{
		ID:                          clientID,
		Name:                        strings.TrimSpace(m.ClientName),
		RedirectURIs:                shared.RedirectURIs,
		GrantTypes:                  []string{clients.GrantAuthorizationCode},
		ResponseTypes:               shared.ResponseTypes,
		Scopes:                      scopes,
		TokenEndpointAuthMethod:     shared.TokenEndpointAuthMethod,
		PostLogoutRedirectURIs:      shared.PostLogoutRedirectURIs,
		JWKS:                        jwks,
		JWKSURI:                     shared.JWKSURI,
		TokenEndpointAuthSigningAlg: shared.TokenEndpointAuthSigningAlg,
		IDTokenSignedResponseAlg:    shared.IDTokenSignedResponseAlg,
		CreatedAt:                   now,
		UpdatedAt:                   now,
	}, nil
}
