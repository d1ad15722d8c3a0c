package provider

import (
	"crypto/sha256"
	"testing"
	"time"
)

func TestVerifiedTokensForgetAtExpiry(t *testing.T) {
	var v verifiedTokens
	key := sha256.Sum256([]byte("a.b.c"))
	now := time.Now()
	if v.valid(key, now) {
		t.Fatal("an unknown token is not verified")
	}
	v.add(key, now.Add(time.Minute))
	if !v.valid(key, now) {
		t.Fatal("a verified token is remembered")
	}
	if v.valid(key, now.Add(2*time.Minute)) {
		t.Fatal("a verified token is forgotten when it expires")
	}
	if v.valid(sha256.Sum256([]byte("a.b.d")), now) {
		t.Fatal("another token string is another entry")
	}
}
