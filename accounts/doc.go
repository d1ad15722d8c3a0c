// Package accounts owns every rule about accounts, written once: creating
// an account (registration, the bootstrapped admin, the CLI and the admin
// API, the dev fixtures), which addresses and passwords are acceptable,
// changing, resetting and forcing a new password, verifying an address,
// enabling and disabling, roles, resetting a second factor, and ending
// what a user holds (Revocation). Attempts is the one way latch checks a
// secret under the per-account and per-IP limits. The pages in login and
// account, the CLI and the admin API call it and keep only HTTP or flags.
//
// It speaks no HTTP: callers say who acts (Actor) and map its typed errors
// (ValidationError, ErrWrong, LockedError, ErrStale, ErrNotFound,
// ErrAlreadyExists, password.ErrBusy) to their own answers. Every change
// writes its audit events and notice mails in the same storage write as the
// change itself (storage.Effects). It must never log or return a password,
// a code, a link token or a hash, and it must never tell a caller more
// about an account than the caller's own page may show.
package accounts
