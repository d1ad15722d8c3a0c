package mfa

import (
	"bytes"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
)

func newBox(t *testing.T) *secret.Box {
	t.Helper()
	b, err := secret.New([]byte("0123456789abcdef0123456789abcdef-test"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// at is a fixed instant in the middle of a 30 s step, so that ±n steps are
// exactly n*30 s away.
var at = time.Unix(1_700_000_015, 0)

func newTOTP(t *testing.T) *TOTP {
	t.Helper()
	tt := NewTOTP(testenv.Redis(t), newBox(t), "latch")
	tt.now = func() time.Time { return at }
	return tt
}

func codeAt(t *testing.T, secret string, when time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, when)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func enroll(t *testing.T, tt *TOTP) string {
	t.Helper()
	e, err := tt.Generate("alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return e.Secret
}

func TestGenerate(t *testing.T) {
	tt := NewTOTP(nil, newBox(t), "latch")
	e, err := tt.Generate("alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.Secret, "=") {
		t.Fatalf("secret %q has padding", "...")
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret decodes to %d bytes (%v), want 20 (160 bits)", len(raw), err)
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/latch:alice@example.com" ||
		q.Get("secret") != e.Secret || q.Get("issuer") != "latch" ||
		q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Fatalf("URL %s is not the otpauth URL of a SHA-1, 6-digit, 30 s secret for latch:alice@example.com", u.Redacted())
	}
	img, err := png.Decode(bytes.NewReader(e.QRPNG))
	if err != nil {
		t.Fatalf("QRPNG is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Fatalf("QR code is %v, too small to scan", b)
	}
	other, err := tt.Generate("alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if other.Secret == e.Secret {
		t.Fatal("two enrollments share a secret")
	}
}

func TestCheckWindow(t *testing.T) {
	for _, tc := range []struct {
		steps int
		want  bool
	}{
		{steps: -2, want: false},
		{steps: -1, want: true},
		{steps: 0, want: true},
		{steps: 1, want: true},
		{steps: 2, want: false},
	} {
		t.Run(fmt.Sprintf("case=step %+d", tc.steps), func(t *testing.T) {
			tt := newTOTP(t)
			s := enroll(t, tt)
			code := codeAt(t, s, at.Add(time.Duration(tc.steps)*30*time.Second))
			got, err := tt.Check(t.Context(), "user-1", s, code)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Check(code of step %+d) = %v, want %v", tc.steps, got, tc.want)
			}
		})
	}
}

func TestCheckInputs(t *testing.T) {
	tt := newTOTP(t)
	s := enroll(t, tt)
	code := codeAt(t, s, at)
	wrong := fmt.Sprintf("%06d", (mustAtoi(code)+1)%1_000_000)
	for i, tc := range []struct {
		name string
		code string
		want bool
	}{
		{name: "wrong code", code: wrong},
		{name: "five digits", code: code[:5]},
		{name: "seven digits", code: code + "0"},
		{name: "letters", code: "abcdef"},
		{name: "empty", code: ""},
		{name: "spaced as apps show it", code: code[:3] + " " + code[3:], want: true},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			got, err := tt.Check(t.Context(), fmt.Sprintf("user-%d", i), s, tc.code)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Check(%s) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
	t.Run("case=malformed secret is an error", func(t *testing.T) {
		if _, err := tt.Check(t.Context(), "user-x", "not base32 at all!", code); err == nil {
			t.Fatal("Check with a malformed secret succeeded")
		}
	})
}

func TestCheckReplay(t *testing.T) {
	for _, tc := range []struct {
		name   string
		first  int // step offset of the first code, accepted
		second int // step offset of the second code
		want   bool
	}{
		{name: "same code again refused", first: 0, second: 0, want: false},
		{name: "earlier step after a later one refused", first: 1, second: 0, want: false},
		{name: "much earlier step refused", first: 1, second: -1, want: false},
		{name: "later step after an earlier one accepted", first: -1, second: 0, want: true},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			tt := newTOTP(t)
			var s, c1, c2 string
			for {
				s = enroll(t, tt)
				c1 = codeAt(t, s, at.Add(time.Duration(tc.first)*30*time.Second))
				c2 = codeAt(t, s, at.Add(time.Duration(tc.second)*30*time.Second))
				// Two steps sharing a code (one in a million) would blur
				// what the case pins: draw another secret.
				if c1 != c2 || tc.first == tc.second {
					break
				}
			}
			if ok, err := tt.Check(t.Context(), "user-1", s, c1); err != nil || !ok {
				t.Fatalf("first code: %v, %v; want accepted", ok, err)
			}
			ok, err := tt.Check(t.Context(), "user-1", s, c2)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.want {
				t.Fatalf("second code: %v, want %v", ok, tc.want)
			}
		})
	}

	t.Run("case=another user is not affected", func(t *testing.T) {
		tt := newTOTP(t)
		s := enroll(t, tt)
		c := codeAt(t, s, at)
		for _, user := range []string{"user-a", "user-b"} {
			if ok, err := tt.Check(t.Context(), user, s, c); err != nil || !ok {
				t.Fatalf("%s: %v, %v; want accepted", user, ok, err)
			}
		}
	})

	t.Run("case=the next step is accepted once time moves on", func(t *testing.T) {
		tt := newTOTP(t)
		s := enroll(t, tt)
		if ok, _ := tt.Check(t.Context(), "user-1", s, codeAt(t, s, at)); !ok {
			t.Fatal("first code refused")
		}
		tt.now = func() time.Time { return at.Add(30 * time.Second) }
		if ok, err := tt.Check(t.Context(), "user-1", s, codeAt(t, s, at.Add(30*time.Second))); err != nil || !ok {
			t.Fatalf("next step: %v, %v; want accepted", ok, err)
		}
	})

	t.Run("case=the marker carries a TTL", func(t *testing.T) {
		tt := newTOTP(t)
		s := enroll(t, tt)
		if ok, _ := tt.Check(t.Context(), "user-1", s, codeAt(t, s, at)); !ok {
			t.Fatal("code refused")
		}
		ttl, err := tt.rdb.PTTL(t.Context(), lastStepKey+"user-1").Result()
		if err != nil || ttl <= 90*time.Second || ttl > lastStepTTL {
			t.Fatalf("TTL = %v, %v; want more than the 90 s window, at most %v", ttl, err, lastStepTTL)
		}
	})
}

func TestCheckRaceHasOneWinner(t *testing.T) {
	tt := newTOTP(t)
	s := enroll(t, tt)
	code := codeAt(t, s, at)
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 20 {
		wg.Go(func() {
			<-start
			ok, err := tt.Check(t.Context(), "user-1", s, code)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of 20 parallel submissions of one code accepted, want exactly 1", n)
	}
}

func TestCheckRealClock(t *testing.T) {
	// With the real clock and pquerna's own code generation.
	tt := NewTOTP(testenv.Redis(t), newBox(t), "latch")
	s := enroll(t, tt)
	ok, err := tt.Check(t.Context(), "user-1", s, codeAt(t, s, time.Now()))
	if err != nil || !ok {
		t.Fatalf("Check = %v, %v; want accepted", ok, err)
	}
}

func TestSealedSecret(t *testing.T) {
	tt := newTOTP(t)
	s := enroll(t, tt)
	sealed := tt.Seal("user-1", s)
	if bytes.Contains(sealed, []byte(s)) {
		t.Fatal("sealed secret contains the secret in clear")
	}
	code := codeAt(t, s, at)
	for _, tc := range []struct {
		name    string
		user    storage.User
		want    bool
		wantErr error
	}{
		{name: "round trip", user: storage.User{ID: "user-1", TOTPSecret: sealed}, want: true},
		{name: "sealed for another user", user: storage.User{ID: "user-2", TOTPSecret: sealed}, wantErr: secret.ErrOpen},
		{name: "not enrolled", user: storage.User{ID: "user-3"}, wantErr: ErrNotEnrolled},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			ok, err := tt.Validate(t.Context(), tc.user, code)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if ok != tc.want {
				t.Fatalf("Validate = %v, want %v", ok, tc.want)
			}
		})
	}
	t.Run("case=open returns the secret", func(t *testing.T) {
		got, err := tt.Open("user-1", sealed)
		if err != nil || got != s {
			t.Fatalf("Open = %v; want the sealed secret back", err)
		}
	})
}

func TestLooksLikeTOTP(t *testing.T) {
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"123456", true},
		{" 123456 ", true},
		{"123 456", true},
		{"12345", false},
		{"1234567", false},
		{"k7f3-9qzm-2xpa", false},
		{"12345a", false},
		{"", false},
	} {
		t.Run("case="+tc.code, func(t *testing.T) {
			if got := LooksLikeTOTP(tc.code); got != tc.want {
				t.Fatalf("LooksLikeTOTP(%q) = %v, want %v", tc.code, got, tc.want)
			}
		})
	}
}

func mustAtoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
