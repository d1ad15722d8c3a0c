package memory

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/latch-idp/latch/storage"
)

func copyIAT(t storage.InitialAccessToken) storage.InitialAccessToken {
	t.Hash = clone(t.Hash)
	return t
}

// CreateInitialAccessToken stores t, atomically with fx.
func (s *Store) CreateInitialAccessToken(_ context.Context, t storage.InitialAccessToken, fx storage.Effects) error {
	if t.ID == "" || len(t.Hash) == 0 || t.MaxUses < 0 || t.ExpiresAt.IsZero() {
		return errorf("create initial access token", fmt.Errorf("token without an ID, hash or expiry"))
	}
	if err := validateEffects(fx); err != nil {
		return errorf("create initial access token", err)
	}
	s.mu.Lock()
	if _, ok := s.iats[t.ID]; ok {
		s.mu.Unlock()
		return errorf("create initial access token", storage.ErrAlreadyExists)
	}
	for _, o := range s.iats {
		if bytes.Equal(o.Hash, t.Hash) {
			s.mu.Unlock()
			return errorf("create initial access token", storage.ErrAlreadyExists)
		}
	}
	t.Uses = 0
	t.CreatedAt = now()
	t.ExpiresAt = t.ExpiresAt.UTC().Truncate(time.Microsecond)
	s.iats[t.ID] = copyIAT(t)
	mail := s.applyEffects(fx)
	s.mu.Unlock()
	s.deliver(mail)
	return nil
}

// ListInitialAccessTokens returns every token, oldest first.
func (s *Store) ListInitialAccessTokens(context.Context) ([]storage.InitialAccessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return oldestFirst(s.iats, copyIAT, func(t storage.InitialAccessToken) (time.Time, string) { return t.CreatedAt, t.ID }), nil
}

// DeleteInitialAccessToken deletes the token, atomically with fx.
func (s *Store) DeleteInitialAccessToken(_ context.Context, id string, fx storage.Effects) error {
	if err := validateEffects(fx); err != nil {
		return errorf("delete initial access token", err)
	}
	s.mu.Lock()
	if _, ok := s.iats[id]; !ok {
		s.mu.Unlock()
		return errorf("delete initial access token", storage.ErrNotFound)
	}
	delete(s.iats, id)
	mail := s.applyEffects(fx)
	s.mu.Unlock()
	s.deliver(mail)
	return nil
}

// UseInitialAccessToken counts one use of a live token.
func (s *Store) UseInitialAccessToken(_ context.Context, hash []byte) (storage.InitialAccessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.iats {
		if !bytes.Equal(t.Hash, hash) {
			continue
		}
		if !now().Before(t.ExpiresAt) || (t.MaxUses > 0 && t.Uses >= t.MaxUses) {
			break
		}
		t.Uses++
		s.iats[id] = t
		return copyIAT(t), nil
	}
	return storage.InitialAccessToken{}, errorf("use initial access token", storage.ErrNotFound)
}
