package storagetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
)

func auditQueryCases() []testCase {
	return []testCase{
		{name: "audit query filters by kind, user, client, time and pages by ID", run: func(t *testing.T, s Backend) {
			ctx := t.Context()
			base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
			for i, e := range []storage.AuditEvent{
				{Kind: "login", UserID: "u1", ClientID: "app"},
				{Kind: "login", UserID: "u2", ClientID: "app"},
				{Kind: "client_created", ClientID: "svc"},
				{Kind: "login", UserID: "u1", ClientID: "other"},
			} {
				e.At = base.Add(time.Duration(i) * time.Minute)
				noErr(t, "AppendAudit", s.AppendAudit(ctx, e))
			}
			kinds := func(q storage.AuditQuery) []string {
				t.Helper()
				es, err := s.QueryAudit(ctx, q)
				noErr(t, "QueryAudit", err)
				out := []string{}
				for _, e := range es {
					out = append(out, e.Kind+"/"+e.UserID+"/"+e.ClientID)
				}
				return out
			}
			for name, tc := range map[string]struct {
				q    storage.AuditQuery
				want []string
			}{
				"kind":       {storage.AuditQuery{Kind: "client_created"}, []string{"client_created//svc"}},
				"user":       {storage.AuditQuery{UserID: "u1"}, []string{"login/u1/other", "login/u1/app"}},
				"client":     {storage.AuditQuery{ClientID: "app"}, []string{"login/u2/app", "login/u1/app"}},
				"time range": {storage.AuditQuery{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)}, []string{"client_created//svc", "login/u2/app"}},
				"limit":      {storage.AuditQuery{Limit: 1}, []string{"login/u1/other"}},
			} {
				if got := kinds(tc.q); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s: %v, want %v", name, got, tc.want)
				}
			}
			page, err := s.QueryAudit(ctx, storage.AuditQuery{Limit: 2})
			noErr(t, "first page", err)
			if got := kinds(storage.AuditQuery{Limit: 2, BeforeID: page[1].ID}); !reflect.DeepEqual(got, []string{"login/u2/app", "login/u1/app"}) {
				t.Errorf("second page: %v", got)
			}
		}},
	}
}
