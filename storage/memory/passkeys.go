package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/latch-idp/latch/storage"
)

func copyPasskey(p storage.Passkey) storage.Passkey {
	p.ID, p.PublicKey = clone(p.ID), clone(p.PublicKey)
	p.AAGUID = clone(p.AAGUID)
	if p.AAGUID == nil {
		p.AAGUID = []byte{}
	}
	p.Transports = strs(p.Transports)
	return p
}

// CreatePasskey stores p with fx.
func (s *Store) CreatePasskey(_ context.Context, p storage.Passkey, fx storage.Effects) error {
	if err := validateEffects(fx); err != nil {
		return errorf("create passkey", err)
	}
	if len(p.ID) == 0 || len(p.PublicKey) == 0 {
		return errorf("create passkey", fmt.Errorf("passkey without an ID or a public key"))
	}
	s.mu.Lock()
	if _, ok := s.users[p.UserID]; !ok {
		s.mu.Unlock()
		return errorf("create passkey", storage.ErrNotFound)
	}
	if _, ok := s.passkeys[string(p.ID)]; ok {
		s.mu.Unlock()
		return errorf("create passkey", storage.ErrAlreadyExists)
	}
	p = copyPasskey(p)
	p.CreatedAt, p.LastUsedAt = now(), time.Time{}
	s.passkeys[string(p.ID)] = p
	mail := s.applyEffects(withUser(fx, p.UserID))
	s.mu.Unlock()
	s.deliver(mail)
	return nil
}

// GetPasskey returns the passkey with this credential ID.
func (s *Store) GetPasskey(_ context.Context, id []byte) (storage.Passkey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.passkeys[string(id)]
	if !ok {
		return storage.Passkey{}, errorf("get passkey", storage.ErrNotFound)
	}
	return copyPasskey(p), nil
}

// ListPasskeys returns the user's passkeys, oldest first.
func (s *Store) ListPasskeys(_ context.Context, userID string) ([]storage.Passkey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mine := map[string]storage.Passkey{}
	for k, p := range s.passkeys {
		if p.UserID == userID {
			mine[k] = p
		}
	}
	return oldestFirst(mine, copyPasskey, func(p storage.Passkey) (time.Time, string) { return p.CreatedAt, string(p.ID) }), nil
}

// RenamePasskey renames the user's passkey with fx.
func (s *Store) RenamePasskey(_ context.Context, userID string, id []byte, name string, fx storage.Effects) error {
	return s.changePasskey("rename passkey", userID, id, fx, func(p *storage.Passkey) bool {
		p.Name = name
		return true
	})
}

// DeletePasskey deletes the user's passkey with fx.
func (s *Store) DeletePasskey(_ context.Context, userID string, id []byte, fx storage.Effects) error {
	return s.changePasskey("delete passkey", userID, id, fx, func(*storage.Passkey) bool { return false })
}

// changePasskey applies change to one of the user's passkeys, keeping it
// when change returns true and deleting it otherwise, with fx.
func (s *Store) changePasskey(op, userID string, id []byte, fx storage.Effects, change func(*storage.Passkey) bool) error {
	if err := validateEffects(fx); err != nil {
		return errorf(op, err)
	}
	s.mu.Lock()
	p, ok := s.passkeys[string(id)]
	if !ok || p.UserID != userID {
		s.mu.Unlock()
		return errorf(op, storage.ErrNotFound)
	}
	if change(&p) {
		s.passkeys[string(id)] = p
	} else {
		delete(s.passkeys, string(id))
	}
	mail := s.applyEffects(withUser(fx, userID))
	s.mu.Unlock()
	s.deliver(mail)
	return nil
}

// UsePasskey records an assertion with the passkey; the counter never goes
// back.
func (s *Store) UsePasskey(_ context.Context, id []byte, use storage.PasskeyUse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.passkeys[string(id)]
	if !ok {
		return errorf("use passkey", storage.ErrNotFound)
	}
	p.SignCount = max(p.SignCount, use.SignCount)
	p.BackupState = use.BackupState
	p.LastUsedAt = use.At.UTC().Truncate(time.Microsecond)
	if use.At.IsZero() {
		p.LastUsedAt = now()
	}
	s.passkeys[string(id)] = p
	return nil
}

// ResetFactors turns off TOTP and deletes the backup codes and passkeys of
// the user, with fx, under the lock.
func (s *Store) ResetFactors(_ context.Context, userID string, fx storage.Effects) (storage.User, error) {
	if err := validateEffects(fx); err != nil {
		return storage.User{}, errorf("reset factors", err)
	}
	s.mu.Lock()
	u, ok := s.users[userID]
	if !ok {
		s.mu.Unlock()
		return storage.User{}, errorf("reset factors", storage.ErrNotFound)
	}
	u.TOTPSecret, u.TOTPEnabledAt, u.UpdatedAt = nil, time.Time{}, now()
	s.users[userID] = copyUser(u)
	delete(s.backupCodes, userID)
	for k, p := range s.passkeys {
		if p.UserID == userID {
			delete(s.passkeys, k)
		}
	}
	mail := s.applyEffects(withUser(fx, userID))
	s.mu.Unlock()
	s.deliver(mail)
	return copyUser(u), nil
}
