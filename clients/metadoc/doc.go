// Package metadoc resolves clients identified by a Client ID Metadata
// Document (draft-ietf-oauth-client-id-metadata-document): a client whose
// client_id is an https URL is not registered with latch; latch fetches the
// URL, checks the JSON document there as RFC 7591 client metadata (through
// package clients, the one owner of redirect URI rules), and uses it as the
// client's registration for as long as it may cache it.
//
// Fetching a URL a stranger names is a server-side request forgery risk,
// so the package must never: fetch from a host off the operator's
// allow-list; connect to a loopback, private, link-local, shared or
// otherwise non-public address, whatever DNS answers (the address is
// checked when it is dialled, so DNS rebinding gains nothing); go through
// an HTTP proxy; follow a redirect; read more than a few kilobytes or wait
// more than a few seconds; send cookies or credentials. And it never turns
// a document into a client latch trusts more than a stranger: no secret,
// no first-party status, no grant or scope beyond what a user's consent
// covers, no long-lived grant.
package metadoc
