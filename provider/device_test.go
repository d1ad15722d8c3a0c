package provider

import (
	"strings"
	"testing"
)

// TestUserCodes pins the user code's form: 8 letters of an alphabet
// without vowels, 0/O or 1/I, read regardless of case, spaces and dashes.
func TestUserCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c := newUserCode()
		if n, ok := normalizeUserCode(formatUserCode(c)); !ok || n != c || strings.ContainsAny(c, "AEIOU01") {
			t.Fatalf("user code %q reads back as %q, %v", c, n, ok)
		}
		seen[c] = true
	}
	if len(seen) < 999 {
		t.Fatalf("%d distinct codes of 1000", len(seen))
	}
	for in, want := range map[string]string{"bcdf-ghjk": "BCDFGHJK", " BCDF GHJK ": "BCDFGHJK", "B-C-D-F-G-H-J-K": "BCDFGHJK",
		"BCDF-GHJ": "", "BCDF-GHJKL": "", "BCDF-GHJ0": "", "BCDF-GHJI": "", "ВCDF-GHJK": "", "BCDF\x00GHJK": "", strings.Repeat("-", 100) + "BCDFGHJK": ""} {
		got, ok := normalizeUserCode(in)
		if got != want || ok != (want != "") {
			t.Errorf("normalizeUserCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
