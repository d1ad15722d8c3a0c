package provider

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/locale"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/rs"
	"github.com/latch-idp/latch/storage"
)

// renderDiscovery renders the OpenID Provider metadata once; nothing in it
// changes while latch runs.
func (h *Handler) renderDiscovery() ([]byte, error) {
	iss := h.cfg.Issuer
	// Every algorithm latch signs with, the default (LATCH_ID_TOKEN_ALG)
	// first: clients choose with id_token_signed_response_alg.
	algs := keys.AlgorithmsFirst(h.cfg.IDTokenAlg)
	authMethods := clients.AuthMethods()
	// Introspection needs a client that authenticates.
	clientAuth := slices.DeleteFunc(clients.AuthMethods(), func(m string) bool { return m == storage.AuthMethodNone })
	assertionAlgs := clients.AssertionAlgs()
	doc := map[string]any{
		"issuer":                                                   iss,
		"authorization_endpoint":                                   iss + PathAuthorize,
		"token_endpoint":                                           iss + PathToken,
		"userinfo_endpoint":                                        iss + PathUserinfo,
		"jwks_uri":                                                 iss + PathJWKS,
		"revocation_endpoint":                                      iss + PathRevoke,
		"introspection_endpoint":                                   iss + PathIntrospect,
		"end_session_endpoint":                                     iss + PathLogout,
		"pushed_authorization_request_endpoint":                    iss + PathPAR,
		"device_authorization_endpoint":                            iss + PathDeviceAuthorization,
		"require_pushed_authorization_requests":                    false,
		"scopes_supported":                                         resources.OIDCScopes(),
		"ui_locales_supported":                                     locale.Codes(),
		"claims_supported":                                         []string{"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "sid", "name", "preferred_username", "updated_at", "email", "email_verified"},
		"response_types_supported":                                 []string{"code"},
		"response_modes_supported":                                 []string{"query"},
		"grant_types_supported":                                    clients.GrantTypes(),
		"subject_types_supported":                                  []string{"public"},
		"id_token_signing_alg_values_supported":                    algs,
		"userinfo_signing_alg_values_supported":                    []string{"none"},
		"code_challenge_methods_supported":                         []string{"S256"},
		"token_endpoint_auth_methods_supported":                    authMethods,
		"token_endpoint_auth_signing_alg_values_supported":         assertionAlgs,
		"revocation_endpoint_auth_signing_alg_values_supported":    assertionAlgs,
		"introspection_endpoint_auth_signing_alg_values_supported": assertionAlgs,
		"revocation_endpoint_auth_methods_supported":               authMethods,
		"introspection_endpoint_auth_methods_supported":            clientAuth,
		"prompt_values_supported":                                  []string{"none", "login", "consent"},
		"claims_parameter_supported":                               false,
		"request_parameter_supported":                              false,
		"request_uri_parameter_supported":                          false,
		"authorization_response_iss_parameter_supported":           true,
		"frontchannel_logout_supported":                            false,
		"backchannel_logout_supported":                             true,
		"backchannel_logout_session_supported":                     true,
		"dpop_signing_alg_values_supported":                        rs.DPoPAlgs(),
	}
	if h.cfg.Passkeys {
		doc["acr_values_supported"] = passkey.ACRValues
		doc["claims_supported"] = append(doc["claims_supported"].([]string), "acr")
	}
	if h.cfg.RegistrationEndpoint != "" {
		doc["registration_endpoint"] = h.cfg.RegistrationEndpoint
	}
	if h.clientDocuments {
		doc["client_id_metadata_document_supported"] = true
	}
	return json.Marshal(doc)
}

// The discovery document's header values, shared by every answer (see
// varyOrigin).
var (
	discoveryContentType  = []string{"application/json"}
	discoveryCacheControl = []string{"public, max-age=3600"}
)

func (h *Handler) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd["Content-Type"], hd["Cache-Control"] = discoveryContentType, discoveryCacheControl
	w.Write(h.discovery)
}
