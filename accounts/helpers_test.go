package accounts_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/memory"
)

// testParams are cheap Argon2id parameters, so the tests run quickly.
var testParams = password.Params{Memory: 1024, Iterations: 1, Parallelism: 1}

// env is a service over the memory store, with a recording revoker and
// the mails the store sent.
type env struct {
	store   *memory.Store
	hasher  *password.Hasher
	revoked *revoked
	svc     *accounts.Service

	mu    sync.Mutex
	mails []storage.MailJob
}

// revoked records what the service asked to end.
type revoked struct {
	store  *memory.Store // RevokeUserWith writes its effects as the real one does
	mu     sync.Mutex
	users  []string
	grants [][2]string
}

func (r *revoked) RevokeUser(_ context.Context, userID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users = append(r.users, userID)
	return nil
}

func (r *revoked) RevokeUserWith(ctx context.Context, userID string, fx storage.Effects) error {
	if _, err := r.store.RevokeUserRefreshTokens(ctx, userID, fx); err != nil {
		return err
	}
	return r.RevokeUser(ctx, userID)
}

func (r *revoked) RevokeClientGrant(_ context.Context, userID, clientID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.grants = append(r.grants, [2]string{userID, clientID})
	return nil
}

func (r *revoked) usersRevoked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.users...)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{hasher: password.NewHasher(testParams, 4, 2*time.Second), revoked: &revoked{}}
	e.store = memory.New(memory.Options{Mail: func(m storage.MailJob) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.mails = append(e.mails, m)
	}})
	e.revoked.store = e.store
	box, err := secret.New([]byte("accounts test secret, 32 bytes or more, never in production"))
	if err != nil {
		t.Fatal(err)
	}
	e.svc, err = accounts.New(accounts.Config{
		Store: e.store, Hasher: e.hasher, Checker: password.Checker{Policy: password.DefaultPolicy()},
		Revoker: e.revoked, Box: box, VerifyURL: "https://id.example.com/verify", ResetURL: "https://id.example.com/reset",
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sent returns the mails sent so far.
func (e *env) sent() []storage.MailJob {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]storage.MailJob(nil), e.mails...)
}

// user creates a verified user with password pw.
func (e *env) user(t *testing.T, email, pw string) storage.User {
	t.Helper()
	u, err := e.svc.Seed(t.Context(), accounts.NewUser{Email: email, Role: storage.RoleUser, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// audit returns the kinds of the user's audit events, oldest first.
func (e *env) audit(t *testing.T, userID string) []storage.AuditEvent {
	t.Helper()
	evs, err := e.store.ListAudit(t.Context(), userID, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// kinds lists the kinds of evs.
func kinds(evs []storage.AuditEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// field returns the field of the only ValidationError in err, "" when
// there is none.
func field(err error) string {
	if v := accounts.Invalid(err); len(v) == 1 {
		return v[0].Field
	}
	return ""
}
