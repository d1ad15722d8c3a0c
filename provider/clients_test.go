package provider

import (
	"context"
	"errors"
	"testing"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/storage"
)

// fakeDocuments resolves every https client ID, or fails.
type fakeDocuments struct {
	err   error
	calls int
}

func (d *fakeDocuments) Enabled() bool { return true }
func (d *fakeDocuments) Handles(id string) bool {
	return len(id) > 8 && id[:8] == "https://"
}
func (d *fakeDocuments) Client(_ context.Context, id string) (storage.Client, error) {
	d.calls++
	if d.err != nil {
		return storage.Client{}, d.err
	}
	return storage.Client{ID: id, TokenEndpointAuthMethod: storage.AuthMethodNone, GrantTypes: []string{"authorization_code"}}, nil
}

// storedOnly finds one registered client, "app".
func storedOnly(calls *int) func(context.Context, string) (storage.Client, error) {
	return func(_ context.Context, id string) (storage.Client, error) {
		*calls++
		if id == "app" {
			return storage.Client{ID: "app", TokenEndpointAuthMethod: storage.AuthMethodNone}, nil
		}
		return storage.Client{}, storage.ErrNotFound
	}
}

const documentURL = "https://app.example.com/client.json"

func TestClientCacheTakesURLClientsFromDocuments(t *testing.T) {
	var stored int
	docs := &fakeDocuments{}
	cc := newClientCache(storedOnly(&stored), docs, 0)
	c, err := cc.getClient(t.Context(), documentURL)
	if err != nil || !c.fromDocument || c.ID != documentURL {
		t.Fatalf("getClient(URL) = %+v, %v; want the document's client", c, err)
	}
	if docs.calls != 1 || stored != 0 {
		t.Fatalf("documents asked %d times, storage %d; want 1 and 0", docs.calls, stored)
	}
	if c, err := cc.getClient(t.Context(), "app"); err != nil || c.fromDocument {
		t.Fatalf("getClient(app) = %+v, %v; want the stored client", c, err)
	}
}

func TestClientCacheUnusableDocumentIsUnknownClient(t *testing.T) {
	var stored int
	cc := newClientCache(storedOnly(&stored), &fakeDocuments{err: errors.New("answered 404")}, 0)
	if _, err := cc.getClient(t.Context(), documentURL); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("getClient = %v, want fosite.ErrNotFound", err)
	}
	if stored != 0 {
		t.Fatal("a URL client ID fell through to storage")
	}
}

func TestClientCacheWithoutDocumentsLeavesURLsToStorage(t *testing.T) {
	var stored int
	cc := newClientCache(storedOnly(&stored), nil, 0)
	if _, err := cc.getClient(t.Context(), documentURL); !errors.Is(err, fosite.ErrNotFound) || stored != 1 {
		t.Fatalf("getClient = %v after %d storage lookups; want not found from storage", err, stored)
	}
}
