package password

import (
	"errors"
	"strings"
	"testing"
)

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy Policy
		pw     string
		want   string // the *Error message, "" for accepted
	}{
		{name: "empty refused", policy: DefaultPolicy(), pw: "", want: "Use at least 8 characters."},
		{name: "seven refused", policy: DefaultPolicy(), pw: "abcdefg", want: "Use at least 8 characters."},
		{name: "eight accepted", policy: DefaultPolicy(), pw: "abcdefgh"},
		{name: "no composition rules", policy: DefaultPolicy(), pw: "aaaaaaaaaaaa"},
		{name: "64 accepted", policy: DefaultPolicy(), pw: strings.Repeat("x", 64)},
		{name: "256 accepted", policy: DefaultPolicy(), pw: strings.Repeat("x", 256)},
		{name: "257 refused", policy: DefaultPolicy(), pw: strings.Repeat("x", 257), want: "Use at most 256 characters."},
		{name: "code points not bytes, short", policy: DefaultPolicy(), pw: "ééééééé", want: "Use at least 8 characters."},
		{name: "code points not bytes, eight", policy: DefaultPolicy(), pw: "pässwörd"},
		{name: "emoji count once", policy: DefaultPolicy(), pw: "🔑🔑🔑🔑🔑🔑🔑🔑"},
		{name: "multibyte at the upper bound", policy: DefaultPolicy(), pw: strings.Repeat("ü", 256)},
		{name: "zero policy means defaults", policy: Policy{}, pw: "abcdefg", want: "Use at least 8 characters."},
		{name: "configured minimum", policy: Policy{MinLength: 12, MaxLength: 64}, pw: "abcdefghijk", want: "Use at least 12 characters."},
		{name: "configured maximum", policy: Policy{MinLength: 12, MaxLength: 64}, pw: strings.Repeat("x", 65), want: "Use at most 64 characters."},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			err := tc.policy.Check(tc.pw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want accepted", err)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Message != tc.want {
				t.Fatalf("Check = %v, want *Error %q", err, tc.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy Policy
		ok     bool
	}{
		{name: "default", policy: DefaultPolicy(), ok: true},
		{name: "zero", policy: Policy{}, ok: true},
		{name: "max below 64", policy: Policy{MinLength: 8, MaxLength: 63}},
		{name: "negative min", policy: Policy{MinLength: -1, MaxLength: 64}},
		{name: "min above max", policy: Policy{MinLength: 100, MaxLength: 64}},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			if err := tc.policy.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestCommon(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{"password", true},
		{"Password", true},
		{"12345678", true},
		{"qwertyuiop", true},
		{"trustno1", true},
		{"", false},
		{"vq8-Lumen-Tarp-91x", false},
	} {
		t.Run("case="+tc.pw, func(t *testing.T) {
			if got := Common(tc.pw); got != tc.want {
				t.Fatalf("Common(%q) = %v, want %v", tc.pw, got, tc.want)
			}
		})
	}
	if n := len(common()); n < 10000 {
		t.Fatalf("common-password list has %d entries, want thousands", n)
	}
}
