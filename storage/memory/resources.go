package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/latch-idp/latch/storage"
)

func copyResource(r storage.Resource) storage.Resource {
	r.Scopes = strs(r.Scopes)
	r.IntrospectionClients = strs(r.IntrospectionClients)
	return r
}

// scopeTaken reports whether a resource other than id owns one of scopes,
// as the primary key of PostgreSQL's resource_scopes would.
func (s *Store) scopeTaken(id string, scopes []string) bool {
	seen := map[string]bool{}
	for _, sc := range scopes {
		if seen[sc] {
			return true
		}
		seen[sc] = true
	}
	for _, r := range s.resources {
		if r.ID == id {
			continue
		}
		for _, sc := range r.Scopes {
			if seen[sc] {
				return true
			}
		}
	}
	return false
}

// CreateResource stores r, atomically with fx.
func (s *Store) CreateResource(_ context.Context, r storage.Resource, fx storage.Effects) error {
	if r.ID == "" || r.AccessTokenTTL < 0 {
		return errorf("create resource", fmt.Errorf("resource without an ID or with a negative lifetime"))
	}
	if err := validateEffects(fx); err != nil {
		return errorf("create resource", err)
	}
	s.mu.Lock()
	if _, ok := s.resources[r.ID]; ok || s.scopeTaken(r.ID, r.Scopes) {
		s.mu.Unlock()
		return errorf("create resource", storage.ErrAlreadyExists)
	}
	r.CreatedAt = now()
	r.UpdatedAt = r.CreatedAt
	r.AccessTokenTTL = r.AccessTokenTTL.Truncate(time.Millisecond)
	s.resources[r.ID] = copyResource(r)
	mail := s.applyEffects(fx)
	s.mu.Unlock()
	s.deliver(mail)
	return nil
}

// GetResource returns the resource; storage.ErrNotFound when there is none.
func (s *Store) GetResource(_ context.Context, id string) (storage.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.resources[id]
	if !ok {
		return storage.Resource{}, errorf("get resource", storage.ErrNotFound)
	}
	return copyResource(r), nil
}

// ListResources returns every resource, oldest first.
func (s *Store) ListResources(context.Context) ([]storage.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return oldestFirst(s.resources, copyResource, func(r storage.Resource) (time.Time, string) { return r.CreatedAt, r.ID }), nil
}

// UpdateResource replaces every field of the resource but its creation
// time, atomically with fx.
func (s *Store) UpdateResource(_ context.Context, r storage.Resource, fx storage.Effects) error {
	if r.AccessTokenTTL < 0 {
		return errorf("update resource", fmt.Errorf("negative lifetime"))
	}
	if err := validateEffects(fx); err != nil {
		return errorf("update resource", err)
	}
	s.mu.Lock()
	old, ok := s.resources[r.ID]
	switch {
	case !ok:
		s.mu.Unlock()
		return errorf("update resource", storage.ErrNotFound)
	case s.scopeTaken(r.ID, r.Scopes):
		s.mu.Unlock()
		return errorf("update resource", storage.ErrAlreadyExists)
	}
	r.CreatedAt, r.UpdatedAt = old.CreatedAt, now()
	r.AccessTokenTTL = r.AccessTokenTTL.Truncate(time.Millisecond)
	s.resources[r.ID] = copyResource(r)
	mail := s.applyEffects(fx)
	s.mu.Unlock()
	s.deliver(mail)
	return nil
}

// DeleteResource deletes the resource, atomically with fx.
func (s *Store) DeleteResource(_ context.Context, id string, fx storage.Effects) error {
	if err := validateEffects(fx); err != nil {
		return errorf("delete resource", err)
	}
	s.mu.Lock()
	if _, ok := s.resources[id]; !ok {
		s.mu.Unlock()
		return errorf("delete resource", storage.ErrNotFound)
	}
	delete(s.resources, id)
	mail := s.applyEffects(fx)
	s.mu.Unlock()
	s.deliver(mail)
	return nil
}
