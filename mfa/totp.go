package mfa

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"image/png"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
)

// RFC 6238 parameters every authenticator app understands.
const (
	period     = 30 // seconds
	digits     = otp.DigitsSix
	secretSize = 20 // bytes: 160 bits, as RFC 4226 recommends
	skew       = 1  // steps accepted either side of the current one
	qrSize     = 256
	// lastStepTTL outlives the whole window in which a code for a recorded
	// step could still be accepted (skew steps either side), with room for
	// clock differences between replicas.
	lastStepTTL = 5 * time.Minute
	lastStepKey = "latch:totp:last-step:"
)

// ErrNotEnrolled is returned by Validate for a user without a TOTP secret.
var ErrNotEnrolled = errors.New("mfa: user has no TOTP secret")

// TOTP enrolls and verifies time-based one-time passwords.
type TOTP struct {
	rdb    redis.UniversalClient
	box    *secret.Box
	issuer string
	now    func() time.Time // tests move the clock
}

// NewTOTP returns a TOTP; issuer is the name authenticator apps show, e.g.
// "latch".
func NewTOTP(rdb redis.UniversalClient, box *secret.Box, issuer string) *TOTP {
	return &TOTP{rdb: rdb, box: box, issuer: issuer, now: time.Now}
}

// Enrollment is a fresh secret to show the user once: as text for manual
// entry, as an otpauth:// URL, and as a QR code of that URL.
type Enrollment struct {
	Secret string // base32, no padding
	URL    string // otpauth://totp/...
	QRPNG  []byte
}

// Generate makes a new 160-bit secret for accountName (SHA-1, 6 digits, 30
// s). Nothing is stored: the caller keeps the secret in the enrollment state
// until a valid code confirms it, then stores Seal's result.
func (t *TOTP) Generate(accountName string) (Enrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      t.issuer,
		AccountName: accountName,
		Period:      period,
		SecretSize:  secretSize,
		Digits:      digits,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: generate TOTP secret: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: draw TOTP QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, fmt.Errorf("mfa: encode TOTP QR code: %w", err)
	}
	return Enrollment{Secret: key.Secret(), URL: key.URL(), QRPNG: buf.Bytes()}, nil
}

// sealAD binds a sealed secret to its purpose and its user, so it cannot be
// moved to another user's row or opened as anything else.
func sealAD(userID string) []byte { return []byte("totp\x00" + userID) }

// Seal seals secret for storage.User.TOTPSecret.
func (t *TOTP) Seal(userID, secret string) []byte {
	return t.box.Seal([]byte(secret), sealAD(userID))
}

// Open returns the secret Seal sealed for userID.
func (t *TOTP) Open(userID string, sealed []byte) (string, error) {
	pt, err := t.box.Open(sealed, sealAD(userID))
	if err != nil {
		return "", fmt.Errorf("mfa: open TOTP secret: %w", err)
	}
	return string(pt), nil
}

// Validate opens u's sealed secret and checks code against it, as Check.
func (t *TOTP) Validate(ctx context.Context, u storage.User, code string) (bool, error) {
	if !u.TOTPEnabled() {
		return false, ErrNotEnrolled
	}
	s, err := t.Open(u.ID, u.TOTPSecret)
	if err != nil {
		return false, err
	}
	return t.Check(ctx, u.ID, s, code)
}

// acceptStep records step as userID's last accepted one, only if it is
// later than the one recorded: one winner among racing submissions.
var acceptStep = redis.NewScript(`
local last = redis.call('GET', KEYS[1])
if last and tonumber(last) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// Check reports whether code is the 6-digit code of secret for the current
// time step or one step either side, and that step is later than the last
// step accepted for userID. An accepted step is recorded at once, so the
// same code (or one of an earlier step) is refused afterwards. The error is
// for Redis or a malformed secret, never for a wrong code.
func (t *TOTP) Check(ctx context.Context, userID, secret, code string) (bool, error) {
	code = stripSpaces(code)
	if !isDigits(code, digits.Length()) {
		return false, nil
	}
	now := t.now()
	current := uint64(now.Unix()) / period
	// Compute every candidate and compare in constant time, without an early
	// exit, so timing tells nothing about which step (if any) matched. pquerna
	// does not say which step matched; the replay check needs it.
	var matched uint64
	found := 0
	for step := current - skew; step <= current+skew; step++ {
		want, err := hotp.GenerateCodeCustom(secret, step, hotp.ValidateOpts{Digits: digits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return false, fmt.Errorf("mfa: TOTP secret is malformed: %w", err)
		}
		eq := subtle.ConstantTimeCompare([]byte(want), []byte(code))
		// Of several matches (a one-in-a-million coincidence) keep the
		// latest, which refuses the most replays.
		if eq == 1 {
			matched = step
		}
		found |= eq
	}
	if found == 0 {
		return false, nil
	}
	won, err := acceptStep.Run(ctx, t.rdb, []string{lastStepKey + userID},
		strconv.FormatUint(matched, 10), lastStepTTL.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("mfa: record TOTP step: %w", err)
	}
	return won == 1, nil
}

// LooksLikeTOTP reports whether code is six digits once spaces are removed,
// to tell a TOTP code from a backup code in the one input field.
func LooksLikeTOTP(code string) bool {
	return isDigits(stripSpaces(code), digits.Length())
}

func stripSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0' {
			return -1
		}
		return r
	}, s)
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
