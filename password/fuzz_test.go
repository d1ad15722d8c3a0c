package password

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecode feeds stored hashes to the PHC parser: it never panics, and
// every hash it accepts re-encodes to one it reads back the same, within
// the bounds that keep one verification cheap enough to finish.
func FuzzDecode(f *testing.F) {
	f.Add(encode(Params{Memory: 19456, Iterations: 2, Parallelism: 1}, []byte("0123456789abcdef"), bytes.Repeat([]byte{7}, 32)))
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$a2V5a2V5")
	f.Add("$argon2id$v=19$m=4294967295,t=4294967295,p=255$c2FsdA$a2V5a2V5")
	f.Add("$argon2i$v=19$m=8,t=1,p=1$c2FsdA$a2V5a2V5")
	f.Add("$argon2id$v=16$m=8,t=1$c2FsdA$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, phc string) {
		p, salt, key, err := decode(phc)
		if err != nil {
			return
		}
		if p.Memory == 0 || p.Memory > MaxMemory || p.Iterations == 0 || p.Iterations > MaxIterations || p.Parallelism == 0 {
			t.Fatalf("decode(%q) accepted out-of-range parameters %+v", phc, p)
		}
		if len(salt) == 0 || len(key) < 4 || len(key) > maxKeyLen {
			t.Fatalf("decode(%q) accepted salt of %d and key of %d bytes", phc, len(salt), len(key))
		}
		p2, salt2, key2, err := decode(encode(p, salt, key))
		if err != nil || p2 != p || !bytes.Equal(salt2, salt) || !bytes.Equal(key2, key) {
			t.Fatalf("decode(%q) = %+v, which does not survive encode: %+v, %v", phc, p, p2, err)
		}
	})
}

// FuzzVerify checks passwords against a stored hash: any password, right
// or wrong, gets an answer and never a panic, and only the right one
// matches.
func FuzzVerify(f *testing.F) {
	h := NewHasher(Params{Memory: 8, Iterations: 1, Parallelism: 1}, 2, time.Second)
	phc, err := h.Hash(f.Context(), "correct horse")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("correct horse")
	f.Add("")
	f.Add("correct horse\x00")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, pw string) {
		ok, _, err := h.Verify(t.Context(), phc, pw)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if ok != (pw == "correct horse") {
			t.Fatalf("Verify(%q) = %v", pw, ok)
		}
	})
}
