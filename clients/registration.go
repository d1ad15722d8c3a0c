package clients

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/storage"
)

// RegistrationPurpose is the keyed-hash purpose of registration access
// tokens (RFC 7592) and initial access tokens (RFC 7591).
const RegistrationPurpose = "client-registration"

// fieldError is a problem with one metadata field; its text starts with
// the field's name.
type fieldError string

func (e fieldError) Error() string { return string(e) }

// field names the metadata field the problem is with.
func (e fieldError) field() string {
	f, _, _ := strings.Cut(string(e), ":")
	return f
}

// RedirectURIProblem reports whether err, from Validate or
// CheckSelfRegistered, is about redirect URIs: RFC 7591 answers those
// with invalid_redirect_uri rather than invalid_client_metadata.
func RedirectURIProblem(err error) bool {
	var joined interface{ Unwrap() []error }
	errs := []error{err}
	if errors.As(err, &joined) {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		var fe fieldError
		if errors.As(e, &fe) && (fe.field() == "redirect_uris" || fe.field() == "post_logout_redirect_uris") {
			return true
		}
	}
	return false
}

// maxSelfRegisteredName bounds the name a stranger puts on the consent
// page.
const maxSelfRegisteredName = 100

// selfRegisteredGrants are the grants of a client that registered itself:
// a user consents to each of its grants (the device grant's consent page
// says that a device asks). client_credentials, which no user sees, needs
// an administrator.
var selfRegisteredGrants = []string{GrantAuthorizationCode, GrantRefreshToken, GrantDeviceCode}

// CheckSelfRegistered refuses what a client that registers itself (RFC
// 7591, or a Client ID Metadata Document) may not have, beyond what
// Validate checks for every client: a client_id of its choosing (id is the
// one it already has, or ""), first-party trust, grants without a user,
// latch's admin scope, and keys by URL, which latch would have to fetch
// from wherever the client says.
func CheckSelfRegistered(m Metadata, id string) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fieldError(fmt.Sprintf(format, a...))) }
	if m.ClientID != id {
		if id == "" {
			bad("client_id: latch chooses the client_id of a registered client; leave it out")
		} else {
			bad("client_id: must be %q", id)
		}
	}
	if m.FirstParty {
		bad("first_party: a client that registers itself is always third-party")
	}
	if utf8.RuneCountInString(m.ClientName) > maxSelfRegisteredName || strings.ContainsFunc(m.ClientName, func(r rune) bool { return !unicode.IsPrint(r) }) {
		bad("client_name: use at most %d printable characters (the consent page shows it)", maxSelfRegisteredName)
	}
	for _, g := range m.GrantTypes {
		if !slices.Contains(selfRegisteredGrants, g) {
			bad("grant_types: %q is not available to registered clients (use %s)", g, strings.Join(selfRegisteredGrants, ", "))
		}
	}
	if slices.Contains(strings.Fields(m.Scope), resources.AdminScope) {
		bad("scope: %q is not available to registered clients", resources.AdminScope)
	}
	if m.JWKSURI != "" {
		bad("jwks_uri: a registered client gives its keys inline (jwks)")
	}
	return errors.Join(errs...)
}

// FromRegistration builds a client that registered itself, from metadata
// Validate and CheckSelfRegistered accepted, with the hash of its
// registration access token. A confidential client gets a new secret.
func FromRegistration(m Metadata, tokenHash []byte, secretHash func() (string, []byte)) (storage.Client, string) {
	c := fromMetadata(m)
	c.RegistrationTokenHash = tokenHash
	var sec string
	if c.TokenEndpointAuthMethod == storage.AuthMethodBasic || c.TokenEndpointAuthMethod == storage.AuthMethodPost {
		sec, c.SecretHash = secretHash()
	}
	return c, sec
}
