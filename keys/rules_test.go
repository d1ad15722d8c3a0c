package keys

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// The rules of rules.go, each at its edges, without keys or signatures.

func TestRuleAlgorithms(t *testing.T) {
	for alg, want := range map[string]bool{
		RS256: true, ES256: true,
		"": false, "none": false, "None": false, "NONE": false,
		"HS256": false, "HS384": false, "HS512": false,
		"rs256": false, "es256": false, "RS384": false, "PS256": false, "EdDSA": false,
	} {
		if got := supportedAlg(alg); got != want {
			t.Errorf("supportedAlg(%q) = %v, want %v", alg, got, want)
		}
	}
	for _, alg := range supported {
		if !supportedAlg(string(alg)) {
			t.Errorf("the parser accepts %s, the rule does not", alg)
		}
	}
	if len(supported) != 2 {
		t.Errorf("the parser accepts %v; the rule only RS256 and ES256", supported)
	}
}

func TestRuleType(t *testing.T) {
	for _, tc := range []struct {
		header map[string]any
		want   bool
	}{
		{map[string]any{"typ": "at+jwt"}, true},
		{map[string]any{"typ": "AT+JWT"}, true},
		{map[string]any{"typ": "At+Jwt"}, true},
		{map[string]any{"typ": "application/at+jwt"}, true},
		{map[string]any{"typ": "Application/AT+JWT"}, true},
		{map[string]any{"typ": "JWT"}, false},
		{map[string]any{"typ": "xat+jwt"}, false},
		{map[string]any{"typ": "at+jwt "}, false},
		{map[string]any{"typ": "text/at+jwt"}, false},
		{map[string]any{"typ": "application/application/at+jwt"}, false},
		{map[string]any{"typ": ""}, false},
		{map[string]any{"typ": 1}, false},
		{map[string]any{}, false},
		{nil, false},
	} {
		if got := HasType(tc.header, TypeAccessToken); got != tc.want {
			t.Errorf("HasType(%v, at+jwt) = %v", tc.header, got)
		}
	}
	if !HasType(map[string]any{"typ": "jwt"}, TypeJWT) || !HasType(map[string]any{"typ": "application/jwt"}, TypeJWT) {
		t.Error("the JWT type compares the same way")
	}
	if HasType(map[string]any{"typ": TypeJWT}, "") {
		t.Error("an empty wanted type matches nothing")
	}
}

func TestRuleIssuer(t *testing.T) {
	for _, tc := range []struct {
		iss  any
		want bool
	}{
		{"https://latch.test", true},
		{"https://latch.test/", false},
		{"https://LATCH.test", false},
		{"http://latch.test", false},
		{"", false},
		{nil, false},
		{[]any{"https://latch.test"}, false},
	} {
		if got := sameIssuer(map[string]any{"iss": tc.iss}, "https://latch.test"); got != tc.want {
			t.Errorf("sameIssuer(%v) = %v", tc.iss, got)
		}
	}
}

func TestRuleTimes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) float64 { return float64(now.Add(d).Unix()) }
	for _, tc := range []struct {
		name         string
		claims       map[string]any
		allowExpired bool
		want         error // nil, ErrExpired or ErrInvalidToken
	}{
		{"valid", map[string]any{"exp": at(time.Hour), "iat": at(0), "nbf": at(0)}, false, nil},
		{"exp a second ahead", map[string]any{"exp": at(time.Second)}, false, nil},
		{"exp now is expired", map[string]any{"exp": at(0)}, false, ErrExpired},
		{"exp passed", map[string]any{"exp": at(-time.Second)}, false, ErrExpired},
		{"exp passed, expired allowed", map[string]any{"exp": at(-time.Hour)}, true, nil},
		{"exp as int64", map[string]any{"exp": now.Add(time.Hour).Unix()}, false, nil},
		{"no exp", map[string]any{"iat": at(0)}, false, ErrInvalidToken},
		{"no exp, expired allowed", map[string]any{"iat": at(0)}, true, ErrInvalidToken},
		{"exp as a string", map[string]any{"exp": "1900000000"}, false, ErrInvalidToken},
		{"iat within the leeway", map[string]any{"exp": at(time.Hour), "iat": at(Leeway)}, false, nil},
		{"iat beyond the leeway", map[string]any{"exp": at(time.Hour), "iat": at(Leeway + time.Second)}, false, ErrInvalidToken},
		{"nbf within the leeway", map[string]any{"exp": at(time.Hour), "nbf": at(Leeway)}, false, nil},
		{"nbf beyond the leeway", map[string]any{"exp": at(time.Hour), "nbf": at(Leeway + time.Second)}, false, ErrInvalidToken},
		{"nbf beyond the leeway, expired allowed", map[string]any{"exp": at(-time.Hour), "nbf": at(time.Hour)}, true, ErrInvalidToken},
		{"iat long ago", map[string]any{"exp": at(time.Hour), "iat": at(-48 * time.Hour)}, false, nil},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			err := checkTimes(tc.claims, now, Leeway, tc.allowExpired)
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("checkTimes: %v, want nil", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("checkTimes: %v, want %v", err, tc.want)
			case tc.want == ErrInvalidToken && errors.Is(err, ErrExpired):
				t.Errorf("checkTimes: %v, want a failure other than expiry", err)
			}
		})
	}
}

func TestAlgorithmsFirst(t *testing.T) {
	for alg, want := range map[string][]string{RS256: {RS256, ES256}, ES256: {ES256, RS256}} {
		if got := AlgorithmsFirst(alg); !slices.Equal(got, want) {
			t.Errorf("AlgorithmsFirst(%s) = %v, want %v", alg, got, want)
		}
	}
}
