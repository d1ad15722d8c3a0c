// Package login owns the pages that establish who the user is: sign-in
// with a password, the second step (a TOTP or a backup code), the forced
// new-password page, registration with email verification, and password
// reset. It hands its result to provider through the flow (flow.Flow) and
// never imports provider.
//
// It must never log a password, a code, a token or a secret, and must never
// reveal whether an account exists: a wrong email and a wrong password get
// the same answer, in about the same time. It must never give a session to
// an account whose address is unverified: after the right password such an
// account gets only a page that re-sends the verification link.
package login
