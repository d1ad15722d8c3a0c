// Package passkey runs WebAuthn ceremonies for latch: registering a passkey
// on the account page, checking one as the second factor after a password,
// and passwordless sign-in with a discoverable credential. It owns the
// relying party's settings (RP ID and origins, derived from the issuer),
// the ceremonies' challenges, and the reading of an assertion into what a
// sign-in records (its amr values, whether it is hardware-bound).
//
// Challenges live in Redis, single use (taken with GETDEL) and short-lived,
// each bound to the browser state that began it: the account session for a
// registration, the pending sign-in for a second factor. Attestation is
// "none": latch trusts the user's choice of authenticator, not a vendor
// list. The library (go-webauthn) checks the origin, the RP ID hash, the
// challenge, the signature and the flags; this package adds the single use,
// the binding, the counter rule and the storage.
package passkey
