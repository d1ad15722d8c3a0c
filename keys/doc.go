// Package keys owns latch's JWT signing keys: it generates them (RSA 2048
// for RS256, P-256 for ES256), stores them sealed with the system secret,
// rotates them, publishes their public halves as a JWK Set at
// /.well-known/jwks.json, signs tokens for fosite and verifies the tokens
// that come back to latch.
//
// Life of a key: it is created with an ActiveAt in the future (PublishAhead)
// so that every replica and every JWKS cache has it before it signs; from
// ActiveAt on it is the signing key of its algorithm; it retires when a
// newer key of its algorithm becomes active, stays published for Retain (the
// longest lifetime of a token it signed) and is then deleted. The keyring
// sits behind an atomic pointer, reloaded from the store every Refresh, and
// the signing key is chosen at every signature, so rotation needs no
// restart. Tokens are verified against the key their kid names among the
// keys still published, never merely the current one.
//
// Verify is the one verifier of the JWTs that come back to latch (bearer
// access tokens, id_token_hint); fosite's Decode goes through it too. The
// rules it applies after the signature (accepted algorithms, typ, iss, exp,
// nbf, iat) are in rules.go, written so that a verifier outside the server
// can apply the same ones.
//
// It is the one package that imports go-jose: its own code uses go-jose v4;
// fosite.go adapts it to fosite's jwt.Signer (which is built on v3).
//
// This package must never log, serve, or put into an error any private key
// material, and never stores a private key unsealed. It never lets a header
// supplied by a caller choose the kid or alg of a token it signs, and never
// accepts a token with alg "none" or a kid it does not publish.
package keys
