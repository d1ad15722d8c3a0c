package accounts

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/latch-idp/latch/secret"
)

// Link tokens are stateless: the subject (a user ID or an email) and an
// expiry, with a keyed hash under the system secret that also covers state
// the token must not outlive (the password hash for a reset, the
// unverified state for a verification). Once that state changes, the token
// stops verifying: that is what makes it single use. The reset and
// verification links are the service's; login signs its own resend tokens
// with the same functions under a purpose of its own.
//
// Format: base64url(subject) "." expiry-unix "." base64url(mac).

func linkMAC(box *secret.Box, purpose, subject string, exp int64, bound string) []byte {
	msg := subject + "\x00" + strconv.FormatInt(exp, 10) + "\x00" + bound
	return box.Hash(purpose, []byte(msg))
}

// SignLink returns a link token for subject until exp, bound to bound.
func SignLink(box *secret.Box, purpose, subject string, exp time.Time, bound string) string {
	e := exp.Unix()
	return base64.RawURLEncoding.EncodeToString([]byte(subject)) + "." + strconv.FormatInt(e, 10) + "." +
		base64.RawURLEncoding.EncodeToString(linkMAC(box, purpose, subject, e, bound))
}

// ParseLink returns the subject of an unexpired token without checking its
// MAC: the caller loads the state the MAC covers, then calls CheckLink.
func ParseLink(token string, now time.Time) (subject string, exp int64, mac []byte, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > 1024 {
		return "", 0, nil, false
	}
	sub, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || len(sub) == 0 {
		return "", 0, nil, false
	}
	exp, err = strconv.ParseInt(parts[1], 10, 64)
	if err != nil || now.Unix() > exp {
		return "", 0, nil, false
	}
	mac, err = base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", 0, nil, false
	}
	return string(sub), exp, mac, true
}

// CheckLink verifies the MAC in constant time, under any configured secret.
func CheckLink(box *secret.Box, purpose, subject string, exp int64, bound string, mac []byte) bool {
	msg := subject + "\x00" + strconv.FormatInt(exp, 10) + "\x00" + bound
	return box.Verify(purpose, []byte(msg), mac)
}
