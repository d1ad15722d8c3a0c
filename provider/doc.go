// Package provider is latch's OAuth 2.0 and OpenID Connect protocol layer:
// it composes fosite's handlers (authorization code with PKCE, refresh
// tokens, client credentials, revocation, introspection, OpenID Connect) over
// latch's storage and keys, and serves the protocol endpoints: discovery,
// authorize, token, revocation, introspection, userinfo and logout, and the
// device authorization grant (RFC 8628: its endpoint, its token endpoint
// handler and the /device verification page, device.go).
//
// It fills what fosite v0.49.0 leaves out: the iss parameter on
// authorization responses (RFC 9207), RFC 9068 access tokens, introspection
// that consults storage so revoked JWTs are inactive (RFC 7662), and
// refresh-token reuse detection that revokes the whole family and alerts the
// user (RFC 9700).
//
// It is the one place where fosite meets latch's stores: the adapter
// (store.go) turns fosite's requests into bytes (request.go) and the
// stores' errors into fosite's, and refresh.go is the refresh-token policy
// (lifetimes, grace, reuse). No fosite type crosses into package storage.
//
// Login and consent happen in packages login and consent; provider hands
// them a flow.Flow and takes it back at its resume endpoint. It never renders
// a login form itself, and never writes a token, code or secret to a log.
package provider
