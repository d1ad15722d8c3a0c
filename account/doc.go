// Package account owns the signed-in user's own page, /account: changing
// the password, setting up and turning off TOTP, backup codes, the apps the
// user has granted access to, the browser sessions, and signing out.
//
// Every change that matters for security sends a notice email in the same
// storage write. It never logs a password, a code or a TOTP secret, and it
// never shows a backup code or a TOTP secret twice.
package account
