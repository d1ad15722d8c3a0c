package secret_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/latch-idp/latch/secret"
)

var (
	oldSecret = []byte("an old system secret of at least 32 bytes")
	newSecret = []byte("a new system secret, also of 32 bytes or more")
)

func TestBox(t *testing.T) {
	old, err := secret.New(oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := secret.New(newSecret, oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("case=short secrets are refused without echoing them", func(t *testing.T) {
		_, err := secret.New([]byte("tooshort"))
		if err == nil || strings.Contains(err.Error(), "tooshort") {
			t.Fatalf("got %v", err)
		}
		if _, err := secret.New(); err == nil {
			t.Fatal("no secret must be refused")
		}
	})
	t.Run("case=seal and open, bound to its purpose", func(t *testing.T) {
		sealed := old.Seal([]byte("private key"), []byte("kid-1"))
		if bytes.Contains(sealed, []byte("private key")) {
			t.Fatal("sealed data contains the plaintext")
		}
		pt, err := old.Open(sealed, []byte("kid-1"))
		if err != nil || string(pt) != "private key" {
			t.Fatalf("open: %v %q", err, pt)
		}
		if _, err := old.Open(sealed, []byte("kid-2")); !errors.Is(err, secret.ErrOpen) {
			t.Fatal("sealed data must not open under other associated data")
		}
		if !bytes.Equal(sealed, sealed) || bytes.Equal(sealed, old.Seal([]byte("private key"), []byte("kid-1"))) {
			t.Fatal("each seal uses a fresh nonce")
		}
	})
	t.Run("case=rotation: the newest seals, every secret opens", func(t *testing.T) {
		sealedOld := old.Seal([]byte("x"), nil)
		if pt, err := rotated.Open(sealedOld, nil); err != nil || string(pt) != "x" {
			t.Fatal("a rotated box must open what the old secret sealed")
		}
		if _, err := old.Open(rotated.Seal([]byte("y"), nil), nil); !errors.Is(err, secret.ErrOpen) {
			t.Fatal("the rotated box must seal with the newest secret")
		}
		if _, err := old.Open([]byte{1, 2}, nil); !errors.Is(err, secret.ErrOpen) {
			t.Fatal("garbage must not open")
		}
	})
	t.Run("case=keyed hashes verify under every secret and per purpose", func(t *testing.T) {
		h := old.Hash("client-secret", []byte("s3cret"))
		if !rotated.Verify("client-secret", []byte("s3cret"), h) {
			t.Fatal("a hash under the old secret must verify after rotation")
		}
		if rotated.Verify("backup-code", []byte("s3cret"), h) {
			t.Fatal("a hash of one purpose must not verify for another")
		}
		if rotated.Verify("client-secret", []byte("s3cret!"), h) {
			t.Fatal("a wrong value must not verify")
		}
		if bytes.Equal(old.Hash("p", []byte("v")), rotated.Hash("p", []byte("v"))) {
			t.Fatal("the newest secret keys new hashes")
		}
	})
	t.Run("case=derived keys, newest first", func(t *testing.T) {
		k := rotated.Keys("fosite-hmac")
		if len(k) != 2 || len(k[0]) != 32 || !bytes.Equal(k[1], old.Keys("fosite-hmac")[0]) {
			t.Fatalf("keys: %d", len(k))
		}
	})
}

func TestSealString(t *testing.T) {
	box, err := secret.New(oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	type offer struct{ User string }
	s := box.SealString(offer{User: "u1"}, []byte("purpose a"))
	var got offer
	if !box.OpenString(s, []byte("purpose a"), &got) || got.User != "u1" {
		t.Fatalf("round trip: %+v", got)
	}
	for name, bad := range map[string]string{"truncated": s[:len(s)/2], "not base64": "%%%", "empty": ""} {
		if box.OpenString(bad, []byte("purpose a"), &got) {
			t.Errorf("%s opened", name)
		}
	}
	if box.OpenString(s, []byte("purpose b"), &got) {
		t.Error("opened for another purpose")
	}
}
