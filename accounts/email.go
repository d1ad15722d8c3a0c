package accounts

import (
	"net/mail"
	"strings"

	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// EmailMessage is the answer to an address the rules refuse;
// EmailMessageID the same in the catalogs.
const (
	EmailMessage   = "Enter an email address like name@example.com."
	EmailMessageID = "form.email_invalid"
)

// NormalizeEmail is the form emails are compared and rate-limited in. It is
// valid UTF-8 without NUL, so that no typed email can fail a lookup in
// PostgreSQL: a garbled one is just an unknown email. Trimming comes last,
// so that the NUL bytes Clip removes cannot leave spaces at an end: the
// normal form of a normal form is itself.
func NormalizeEmail(s string) string {
	return strings.TrimSpace(web.Clip(strings.ToLower(s), maxEmailInput))
}

// maxEmailInput bounds a typed email; no address is this long (ValidEmail
// allows 254 bytes).
const maxEmailInput = 1024

// ValidEmail accepts a bare address of sane length.
func ValidEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " <>\r\n") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".")
}

// newEmail accepts the address of a new account: a valid one, in printable
// ASCII only. Look-alike letters (fullwidth, Cyrillic), combining marks and
// invisible characters would let one mailbox, or what reads as one, get a
// second account: mail servers that apply IDNA mapping deliver
// "ada@ｅｘａｍｐｌｅ.com" to ada@example.com.
func newEmail(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return ValidEmail(s)
}

// AccountEmail normalizes the address of a new account (trimmed, lower
// case) and reports whether it is acceptable: every way an account is
// created applies this rule.
func AccountEmail(s string) (string, bool) {
	s = NormalizeEmail(s)
	return s, newEmail(s)
}

// ValidRole reports whether role is one latch knows.
func ValidRole(role string) bool {
	return role == storage.RoleUser || role == storage.RoleAdmin
}
