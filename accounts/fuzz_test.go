package accounts_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latch-idp/latch/accounts"
)

// FuzzEmail feeds typed addresses to the email rules: no panic; the
// normal form is valid UTF-8 without NUL (so a lookup cannot fail in
// PostgreSQL) and normalising it again changes nothing; an address
// accepted for a new account is printable ASCII, lower case, valid, and
// accepted again as it is.
func FuzzEmail(f *testing.F) {
	for _, s := range []string{"Ada@Example.com", " ada@example.com\n", "ada@ｅｘａｍｐｌｅ.com", "\"a b\"@example.com",
		"a@b", "<ada@example.com>", "ada@example.com\x00", "\xff@example.com", "İ@example.com", strings.Repeat("a", 300) + "@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		n := accounts.NormalizeEmail(typed)
		if !utf8.ValidString(n) || strings.ContainsRune(n, 0) {
			t.Fatalf("NormalizeEmail(%q) = %q: not valid UTF-8 without NUL", typed, n)
		}
		if again := accounts.NormalizeEmail(n); again != n {
			t.Fatalf("NormalizeEmail is not idempotent on %q: %q then %q", typed, n, again)
		}
		email, ok := accounts.AccountEmail(typed)
		if !ok {
			return
		}
		for i := 0; i < len(email); i++ {
			if email[i] <= ' ' || email[i] >= 0x7f || ('A' <= email[i] && email[i] <= 'Z') {
				t.Fatalf("AccountEmail(%q) accepted %q", typed, email)
			}
		}
		if !accounts.ValidEmail(email) {
			t.Fatalf("AccountEmail(%q) accepted %q, which ValidEmail refuses", typed, email)
		}
		if again, ok := accounts.AccountEmail(email); !ok || again != email {
			t.Fatalf("AccountEmail(%q) = %q, but AccountEmail of that = %q, %v", typed, email, again, ok)
		}
	})
}
