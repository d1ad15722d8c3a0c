// Package mfa is latch's second factor: TOTP (RFC 6238) enrollment and
// single-use verification, and backup codes.
//
// A TOTP code is accepted at most once: the last accepted time step of each
// user is kept in Redis and advanced with one atomic compare-and-set, so a
// replay within the validity window, or a second racing submission of the
// same code, is refused. Secrets are sealed at rest with the system secret;
// backup codes are stored only as keyed hashes.
//
// It must never log, return in an error, or store in clear a TOTP secret, a
// code or a backup code.
package mfa
