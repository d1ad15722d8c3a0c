// Package password hashes and verifies user passwords (Argon2id, PHC
// strings), bounds how many hashes run at once, and decides whether a new
// password is acceptable: NIST SP 800-63B length rules, a bundled list of the
// most common passwords, and the Have I Been Pwned range API with
// k-anonymity.
//
// It must never log, store or send a password, and never send more of a
// password's hash than the five-character SHA-1 prefix the range API needs.
// Comparisons of hashes are constant-time.
package password
