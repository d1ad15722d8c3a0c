package password

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswords is the 49,233-entry password list of zxcvbn, as shipped in
// the npm package @zxcvbn-ts/language-common 4.1.3 (src/passwords.json), one
// per line, most common first. It was compiled by Dan Wheeler / Dropbox for
// zxcvbn from leaked password corpora. MIT licence: see
// common-passwords.LICENSE beside this file.
//
//go:embed common-passwords.txt
var commonPasswords string

var common = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(commonPasswords, "\n")
	m := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		if l != "" {
			m[l] = struct{}{}
		}
	}
	return m
})

// Common reports whether pw, ignoring case, is in the bundled list of common
// passwords. The list is lowercase; "Password1" is as weak as "password1".
func Common(pw string) bool {
	_, ok := common()[strings.ToLower(pw)]
	return ok
}
