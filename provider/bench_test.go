package provider

import (
	"strings"
	"testing"

	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
)

// BenchmarkSessionRoundTrip is what storage does with a grant on every
// token request and introspection: serialise it, and read it back.
func BenchmarkSessionRoundTrip(b *testing.B) {
	r := testRequest("user-1")
	client := FositeClient{Client: storage.Client{ID: "app"}}
	b.ReportAllocs()
	for b.Loop() {
		data, err := MarshalRequest(r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := UnmarshalRequest(data, NewSession(""), client); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientSecret is the check of a client secret at the token and
// introspection endpoints.
func BenchmarkClientSecret(b *testing.B) {
	box, err := secret.New([]byte(strings.Repeat("k", secret.MinLength)))
	if err != nil {
		b.Fatal(err)
	}
	h := SecretHasher{Box: box}
	sec := []byte("a-client-secret-of-forty-three-characters-x")
	hash, _ := h.Hash(b.Context(), sec)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.Compare(b.Context(), hash, sec); err != nil {
			b.Fatal(err)
		}
	}
}
