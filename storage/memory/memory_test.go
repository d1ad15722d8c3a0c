package memory_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/memory"
	"github.com/latch-idp/latch/storage/storagetest"
)

// TestConformance runs the suite; the outbox records what the Mail hook
// receives, as dev mode's in-process queue would.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Backend {
		var (
			mu   sync.Mutex
			mail []storage.MailJob
		)
		s := memory.New(memory.Options{
			Mail: func(m storage.MailJob) {
				mu.Lock()
				defer mu.Unlock()
				mail = append(mail, m)
			},
		})
		return storagetest.Backend{Store: s, MailOutbox: func(context.Context) ([]storage.MailJob, error) {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(mail), nil
		}}
	}, storagetest.Options{})
}

func TestMailHookMayCallTheStore(t *testing.T) {
	var s *memory.Store
	called := false
	s = memory.New(memory.Options{Mail: func(storage.MailJob) {
		// The hook runs outside the store's lock: this must not deadlock.
		_, _ = s.ListUsers(context.Background())
		called = true
	}})
	if err := s.EnqueueMail(t.Context(), storage.MailJob{To: "a@example.com", Template: "t"}); err != nil {
		t.Fatal(err)
	}
	if !called {
		t.Fatal("Mail hook not called")
	}
}

func TestReturnedValuesAreCopies(t *testing.T) {
	s := memory.New(memory.Options{})
	c := storage.Client{ID: "app", TokenEndpointAuthMethod: storage.AuthMethodNone, RedirectURIs: []string{"https://a/cb"}}
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	c.RedirectURIs[0] = "https://evil/cb"
	got, err := s.GetClient(t.Context(), "app")
	if err != nil {
		t.Fatal(err)
	}
	got.RedirectURIs[0] = "https://evil/cb"
	again, _ := s.GetClient(t.Context(), "app")
	if again.RedirectURIs[0] != "https://a/cb" {
		t.Fatalf("the store shares memory with its callers: %v", again.RedirectURIs)
	}
}
