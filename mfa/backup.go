package mfa

import (
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/latch-idp/latch/secret"
)

// backupAlphabet leaves out characters people confuse when they copy a code
// from paper: 0/o, 1/l/i. 31 symbols give 4.95 bits each.
const backupAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// Backup codes are three groups of four: 12 symbols, about 59 bits.
const (
	backupGroups    = 3
	backupGroupSize = 4
	backupPurpose   = "backup-code"
)

// GenerateBackupCodes returns n distinct codes like "k7f3-9qzm-2xpa" from
// crypto/rand. Show them once; store only HashBackupCode of each.
func GenerateBackupCodes(n int) ([]string, error) {
	seen := make(map[string]bool, n)
	codes := make([]string, 0, n)
	for len(codes) < n {
		c, err := backupCode()
		if err != nil {
			return nil, err
		}
		if !seen[c] {
			seen[c] = true
			codes = append(codes, c)
		}
	}
	return codes, nil
}

func backupCode() (string, error) {
	var sb strings.Builder
	buf := make([]byte, 32)
	i := len(buf)
	for n := 0; n < backupGroups*backupGroupSize; {
		if i == len(buf) {
			if _, err := rand.Read(buf); err != nil {
				return "", fmt.Errorf("mfa: read random: %w", err)
			}
			i = 0
		}
		b := buf[i] & 31
		i++
		// Rejection keeps every symbol equally likely.
		if int(b) >= len(backupAlphabet) {
			continue
		}
		if n > 0 && n%backupGroupSize == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(backupAlphabet[b])
		n++
	}
	return sb.String(), nil
}

// NormalizeBackupCode lowercases code and removes spaces and dashes, so
// "K7F3 9QZM-2XPA" and "k7f3-9qzm-2xpa" are one code.
func NormalizeBackupCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t', '\n', '\r', '\u00a0', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
			return -1
		}
		return r
	}, strings.ToLower(code))
}

// HashBackupCode is the keyed hash to store for code (normalized first).
// Check a submitted code with VerifyBackupCode, or compare HashBackupCode of
// it in constant time.
func HashBackupCode(box *secret.Box, code string) []byte {
	return box.Hash(backupPurpose, []byte(NormalizeBackupCode(code)))
}

// VerifyBackupCode reports, in constant time, whether code hashes to hash
// under any configured system secret (so codes survive secret rotation).
func VerifyBackupCode(box *secret.Box, code string, hash []byte) bool {
	return box.Verify(backupPurpose, []byte(NormalizeBackupCode(code)), hash)
}
