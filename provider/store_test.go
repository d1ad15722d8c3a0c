package provider

import (
	"context"
	"errors"
	"testing"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/storage"
)

// conflictStore is a durable store whose transactions lose to a concurrent
// one, as PostgreSQL's do on a serialization failure or a deadlock.
type conflictStore struct{ Durable }

func (conflictStore) BeginTx(ctx context.Context) (context.Context, error) {
	return ctx, storage.ErrConflict
}
func (conflictStore) Commit(context.Context) error   { return storage.ErrConflict }
func (conflictStore) Rollback(context.Context) error { return storage.ErrConflict }

func TestStoreErrorsReachFositeAsItsOwn(t *testing.T) {
	s := &fositeStore{durable: conflictStore{}}
	_, begin := s.BeginTX(t.Context())
	for name, err := range map[string]error{"BeginTX": begin, "Commit": s.Commit(t.Context()), "Rollback": s.Rollback(t.Context())} {
		if !errors.Is(err, fosite.ErrSerializationFailure) {
			t.Errorf("%s = %v, want fosite.ErrSerializationFailure", name, err)
		}
	}
	for in, want := range map[error]error{
		storage.ErrNotFound: fosite.ErrNotFound,
		storage.ErrInactive: fosite.ErrInactiveToken,
		storage.ErrConflict: fosite.ErrSerializationFailure,
	} {
		if got := fositeError(in); !errors.Is(got, want) {
			t.Errorf("fositeError(%v) = %v, want %v", in, got, want)
		}
	}
	if other := errors.New("disk on fire"); fositeError(other) != other {
		t.Error("an error of no kind fosite knows must pass through unchanged")
	}
}
