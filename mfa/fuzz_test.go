package mfa

import (
	"testing"

	"github.com/latch-idp/latch/secret"
)

// FuzzBackupCode feeds typed backup codes to normalisation and
// verification: no panic, normalising twice changes nothing, and a typed
// code verifies against a stored code exactly when the two normalise
// alike.
func FuzzBackupCode(f *testing.F) {
	box, err := secret.New([]byte("backup-code-fuzz-secret-0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	codes, err := GenerateBackupCodes(2)
	if err != nil {
		f.Fatal(err)
	}
	stored := codes[0]
	hash := HashBackupCode(box, stored)
	f.Add(stored)
	f.Add(codes[1])
	f.Add("K7F3 9QZM\u20132XPA")
	f.Add("")
	f.Add("\xff\u00a0-\t")
	f.Add("İ\u212a")
	f.Fuzz(func(t *testing.T, typed string) {
		n := NormalizeBackupCode(typed)
		if NormalizeBackupCode(n) != n {
			t.Fatalf("NormalizeBackupCode is not idempotent on %q: %q then %q", typed, n, NormalizeBackupCode(n))
		}
		if got, want := VerifyBackupCode(box, typed, hash), n == NormalizeBackupCode(stored); got != want {
			t.Fatalf("VerifyBackupCode(%q) = %v, want %v", typed, got, want)
		}
	})
}
