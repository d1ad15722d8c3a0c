package login

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/web"
)

// ReauthWindow is how recent a sign-in must be before a change of the
// factors that protect the account (turning on TOTP, adding a passkey): a
// session cookie alone, stolen or left open, must not bind a factor.
const ReauthWindow = 10 * time.Minute

// Recent reports whether sess signed in within d, with a second factor
// when secondFactor is true.
func Recent(sess *session.Session, d time.Duration, secondFactor bool) bool {
	if secondFactor && !slices.ContainsFunc(sess.AMR, func(m string) bool { return m != "pwd" }) {
		return false
	}
	return time.Since(sess.AuthTime) <= d
}

// Reauthenticate sends the browser to sign in again, even with a live
// session, and then back to returnTo, a local path. The new sign-in asks
// for the password and the second factor the account has.
func Reauthenticate(w http.ResponseWriter, r *http.Request, returnTo string) {
	web.Redirect(w, r, ReauthURL(returnTo))
}

// ReauthURL is where Reauthenticate sends the browser.
func ReauthURL(returnTo string) string {
	return PathLogin + "?reauth=1&return_to=" + url.QueryEscape(returnTo)
}
