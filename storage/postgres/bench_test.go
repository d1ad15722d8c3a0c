package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
)

// BenchmarkRefreshRotation is what a refresh costs the database: read the
// presented token, deactivate it and write its successor.
func BenchmarkRefreshRotation(b *testing.B) {
	s := newStore(b, postgres.Options{})
	ctx := b.Context()
	if err := s.CreateClient(ctx, storage.Client{ID: "app", TokenEndpointAuthMethod: storage.AuthMethodNone}); err != nil {
		b.Fatal(err)
	}
	token := func(n int) storage.RefreshToken {
		return storage.RefreshToken{
			Signature: fmt.Sprintf("sig-%d", n), RequestID: "family", ClientID: "app", AccessSignature: fmt.Sprintf("at-%d", n),
			Active: true, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), Request: []byte(`{"id":"family"}`),
		}
	}
	if err := s.CreateRefreshToken(ctx, token(0)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		sig := token(n).Signature
		if _, err := s.GetRefreshToken(ctx, sig, 0); err != nil {
			b.Fatal(err)
		}
		if err := s.RotateRefreshToken(ctx, sig, 0); err != nil {
			b.Fatal(err)
		}
		n++
		if err := s.CreateRefreshToken(ctx, token(n)); err != nil {
			b.Fatal(err)
		}
	}
}
