package mfa

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestGenerateBackupCodes(t *testing.T) {
	codes, err := GenerateBackupCodes(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d codes, want 10", len(codes))
	}
	format := regexp.MustCompile(`^[` + backupAlphabet + `]{4}-[` + backupAlphabet + `]{4}-[` + backupAlphabet + `]{4}$`)
	for _, c := range codes {
		if !format.MatchString(c) {
			t.Fatalf("code %q is not three groups of four readable characters", c)
		}
		if strings.ContainsAny(c, "01ilo") {
			t.Fatalf("code %q has a confusable character", c)
		}
	}
	if bits := 12 * math.Log2(float64(len(backupAlphabet))); bits < 50 {
		t.Fatalf("codes carry %.1f bits, want at least 50", bits)
	}

	// Across many codes: no repeats, and every symbol of the alphabet used.
	many, err := GenerateBackupCodes(2000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	used := map[rune]bool{}
	for _, c := range many {
		if seen[c] {
			t.Fatalf("code repeated")
		}
		seen[c] = true
		for _, r := range NormalizeBackupCode(c) {
			used[r] = true
		}
	}
	if len(used) != len(backupAlphabet) {
		t.Fatalf("%d of %d symbols used in 24000 draws", len(used), len(backupAlphabet))
	}
}

func TestNormalizeBackupCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"k7f3-9qzm-2xpa", "k7f39qzm2xpa"},
		{"K7F3-9QZM-2XPA", "k7f39qzm2xpa"},
		{" k7f3 9qzm 2xpa ", "k7f39qzm2xpa"},
		{"k7f3—9qzm–2xpa", "k7f39qzm2xpa"},
		{"k7f39qzm2xpa", "k7f39qzm2xpa"},
	} {
		t.Run("case="+tc.in, func(t *testing.T) {
			if got := NormalizeBackupCode(tc.in); got != tc.want {
				t.Fatalf("NormalizeBackupCode(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestHashBackupCode(t *testing.T) {
	box := newBox(t)
	h := HashBackupCode(box, "k7f3-9qzm-2xpa")
	for _, tc := range []struct {
		name, code string
		want       bool
	}{
		{name: "same code", code: "k7f3-9qzm-2xpa", want: true},
		{name: "typed differently", code: "K7F3 9QZM 2XPA", want: true},
		{name: "other code", code: "k7f3-9qzm-2xpb"},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			if got := VerifyBackupCode(box, tc.code, h); got != tc.want {
				t.Fatalf("VerifyBackupCode = %v, want %v", got, tc.want)
			}
			if got := string(HashBackupCode(box, tc.code)) == string(h); got != tc.want {
				t.Fatalf("HashBackupCode equal = %v, want %v", got, tc.want)
			}
		})
	}
	if string(h) == string(box.Hash("other-purpose", []byte("k7f39qzm2xpa"))) {
		t.Fatal("backup-code hash is not domain-separated")
	}
	if strings.Contains(string(h), "k7f3") {
		t.Fatal("hash holds the code in clear")
	}
}
