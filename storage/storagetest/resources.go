package storagetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
)

func apiResource(id string, scopes ...string) storage.Resource {
	return storage.Resource{ID: id, Name: "API " + id, Scopes: scopes, AccessTokenTTL: 10 * time.Minute}
}

func resourceIDs(t *testing.T, s Backend) []string {
	t.Helper()
	rs, err := s.ListResources(t.Context())
	noErr(t, "ListResources", err)
	ids := []string{}
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func resourceCases() []testCase {
	return []testCase{
		{name: "resource round-trips with its scopes in order and its effects", run: func(t *testing.T, s Backend) {
			want := apiResource("https://api.example.com", "api:write", "api:read")
			want.IntrospectionClients = []string{"api-gateway", "api-worker"}
			noErr(t, "CreateResource", s.CreateResource(t.Context(), want, effects("resource_created", "")))
			got, err := s.GetResource(t.Context(), want.ID)
			noErr(t, "GetResource", err)
			recent(t, "CreatedAt", got.CreatedAt)
			if got.ID != want.ID || got.Name != want.Name || got.AccessTokenTTL != want.AccessTokenTTL || !reflect.DeepEqual(got.Scopes, want.Scopes) ||
				!reflect.DeepEqual(got.IntrospectionClients, want.IntrospectionClients) {
				t.Fatalf("GetResource = %+v, want %+v", got, want)
			}
			if a := audit(t, s, ""); len(a) != 1 || a[0].Kind != "resource_created" {
				t.Fatalf("audit = %+v, want the resource_created event", a)
			}
		}},
		{name: "resource IDs and scopes belong to one resource", run: func(t *testing.T, s Backend) {
			noErr(t, "CreateResource", s.CreateResource(t.Context(), apiResource("https://a.example", "a:read"), storage.Effects{}))
			wantErr(t, "same ID", s.CreateResource(t.Context(), apiResource("https://a.example", "other"), storage.Effects{}), storage.ErrAlreadyExists)
			wantErr(t, "taken scope", s.CreateResource(t.Context(), apiResource("https://b.example", "b:read", "a:read"), storage.Effects{}), storage.ErrAlreadyExists)
			if ids := resourceIDs(t, s); !reflect.DeepEqual(ids, []string{"https://a.example"}) {
				t.Fatalf("after refused creations: %v, want only the first", ids)
			}
			noErr(t, "CreateResource", s.CreateResource(t.Context(), apiResource("https://b.example", "b:read"), storage.Effects{}))
			wantErr(t, "update to a taken scope", s.UpdateResource(t.Context(), apiResource("https://b.example", "a:read"), storage.Effects{}), storage.ErrAlreadyExists)
			b, err := s.GetResource(t.Context(), "https://b.example")
			noErr(t, "GetResource", err)
			if !reflect.DeepEqual(b.Scopes, []string{"b:read"}) {
				t.Fatalf("a refused update changed the scopes to %v", b.Scopes)
			}
		}},
		{name: "resource update replaces its fields and frees dropped scopes", run: func(t *testing.T, s Backend) {
			noErr(t, "CreateResource", s.CreateResource(t.Context(), apiResource("https://a.example", "a:read", "a:write"), storage.Effects{}))
			up := storage.Resource{ID: "https://a.example", Name: "Renamed", Scopes: []string{"a:read"}, IntrospectionClients: []string{"gw"}}
			noErr(t, "UpdateResource", s.UpdateResource(t.Context(), up, effects("resource_updated", "")))
			got, err := s.GetResource(t.Context(), up.ID)
			noErr(t, "GetResource", err)
			if got.Name != "Renamed" || got.AccessTokenTTL != 0 || !reflect.DeepEqual(got.Scopes, []string{"a:read"}) || got.UpdatedAt.Before(got.CreatedAt) ||
				!reflect.DeepEqual(got.IntrospectionClients, []string{"gw"}) {
				t.Fatalf("after update: %+v", got)
			}
			noErr(t, "scope freed", s.CreateResource(t.Context(), apiResource("https://b.example", "a:write"), storage.Effects{}))
			wantErr(t, "update unknown", s.UpdateResource(t.Context(), apiResource("https://nope.example"), storage.Effects{}), storage.ErrNotFound)
		}},
		{name: "resources list oldest first and delete with their scopes", run: func(t *testing.T, s Backend) {
			for _, id := range []string{"https://1.example", "https://2.example", "https://3.example"} {
				noErr(t, "CreateResource", s.CreateResource(t.Context(), apiResource(id, id+"/scope"), storage.Effects{}))
			}
			noErr(t, "DeleteResource", s.DeleteResource(t.Context(), "https://2.example", effects("resource_deleted", "")))
			if ids := resourceIDs(t, s); !reflect.DeepEqual(ids, []string{"https://1.example", "https://3.example"}) {
				t.Fatalf("ListResources = %v", ids)
			}
			_, err := s.GetResource(t.Context(), "https://2.example")
			wantErr(t, "GetResource deleted", err, storage.ErrNotFound)
			wantErr(t, "DeleteResource again", s.DeleteResource(t.Context(), "https://2.example", storage.Effects{}), storage.ErrNotFound)
			noErr(t, "scope of a deleted resource is free", s.CreateResource(t.Context(), apiResource("https://4.example", "https://2.example/scope"), storage.Effects{}))
		}},
	}
}
