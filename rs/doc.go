// Package rs lets an API (a resource server) accept the access tokens latch
// issues, without a call to latch per request.
//
// A Verifier discovers the issuer once, caches its JSON Web Key Set, and
// checks each bearer token offline: the signature (asymmetric algorithms
// only, the one each key names), typ at+jwt (RFC 9068), the issuer, that
// the audience holds this API's resource identifier (RFC 8707), and the
// expiry with a small clock skew. A token signed by a key it does not know
// makes it refetch the key set, at most once every few seconds, so a
// rotation needs no restart and a flood of forged key IDs cannot hammer the
// issuer.
//
// Its middleware answers as RFC 6750 section 3 says, with the
// resource_metadata parameter of RFC 9728, so that a client that knows
// nothing of the API can find out where to get a token:
//
//	RequireUser    a token with a user (not a client's own token)
//	RequireAdmin   a user whose role is admin
//	RequireClient  a client's own token (client_credentials)
//	RequireScope   a token holding every scope named
//
// A token latch bound to a client's key (cnf.jkt, DPoP, RFC 9449) passes
// only with the DPoP scheme and a proof of that key for the request (htm,
// htu, iat, ath), each proof once (an in-process, bounded replay cache);
// refusals then carry a DPoP challenge with the accepted algorithms.
// Tokens without cnf stay bearer tokens. VerifyRequest makes the
// middleware's checks for code that is not an http.Handler; Verify, which
// sees no request, refuses DPoP-bound tokens.
//
// The verified claims are in the request's context (ClaimsFrom).
// MetadataHandler serves the API's protected resource metadata (RFC 9728).
//
// Tokens stay valid until they expire; an API that must see a revocation
// within seconds sets Config.Introspection, and each token is then also
// introspected (RFC 7662), with a short cache.
//
// The package depends on nothing but go-jose and the standard library, and
// never logs or returns a token.
package rs
