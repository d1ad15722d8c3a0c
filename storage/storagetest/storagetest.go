package storagetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
)

// Options say what a backend offers beyond the contract every one fulfils.
type Options struct {
	// Transactions: BeginTx starts a real transaction (isolated, rolled
	// back by Rollback), so the transaction cases apply.
	Transactions bool
}

// Backend is a backend under test: a storage.Store, the one contract the
// suite pins, and a view of the mail it enqueued, which the contract has
// no call to read back.
type Backend struct {
	storage.Store
	// MailOutbox lists the mail enqueued (and committed) so far, oldest
	// first.
	MailOutbox func(ctx context.Context) ([]storage.MailJob, error)
}

type testCase struct {
	name string
	// transactional cases run only against stores with real transactions
	// (Options.Transactions); the others must hold without them.
	transactional bool
	run           func(t *testing.T, s Backend)
}

// Run runs every case, each against a new, empty store from newBackend.
func Run(t *testing.T, newBackend func(t *testing.T) Backend, opts Options) {
	var cases []testCase
	cases = append(cases, clientCases()...)
	cases = append(cases, resourceCases()...)
	cases = append(cases, registrationCases()...)
	cases = append(cases, userCases()...)
	cases = append(cases, userUpdateCases()...)
	cases = append(cases, backupCodeCases()...)
	cases = append(cases, totpCases()...)
	cases = append(cases, passkeyCases()...)
	cases = append(cases, userDeletionCases()...)
	cases = append(cases, consentCases()...)
	cases = append(cases, refreshCases()...)
	cases = append(cases, signingKeyCases()...)
	cases = append(cases, auditAndMailCases()...)
	cases = append(cases, auditQueryCases()...)

	for _, c := range cases {
		if c.transactional && !opts.Transactions {
			// Not applicable, rather than skipped: a store without
			// transactions has no transaction to roll back.
			continue
		}
		t.Run("case="+c.name, func(t *testing.T) {
			s := newBackend(t)
			t.Cleanup(s.Close)
			c.run(t, s)
		})
	}
}

// --- fixtures ---

var (
	errBoom = errors.New("storagetest: mutate failed on purpose")
	hash    = func(s string) []byte { return []byte("hash:" + s) }
)

func confidentialClient(id string) storage.Client {
	return storage.Client{
		ID:                               id,
		Name:                             "Client " + id,
		SecretHash:                       hash("secret-" + id),
		RedirectURIs:                     []string{"https://" + id + ".example/cb"},
		GrantTypes:                       []string{"authorization_code", "refresh_token"},
		ResponseTypes:                    []string{"code"},
		Scopes:                           []string{"openid", "offline_access", "email"},
		TokenEndpointAuthMethod:          storage.AuthMethodBasic,
		PostLogoutRedirectURIs:           []string{"https://" + id + ".example/bye"},
		BackchannelLogoutURI:             "https://" + id + ".example/backchannel",
		BackchannelLogoutSessionRequired: true,
	}
}

func publicClient(id string) storage.Client {
	c := confidentialClient(id)
	c.SecretHash = nil
	c.TokenEndpointAuthMethod = storage.AuthMethodNone
	c.PostLogoutRedirectURIs = nil // comes back as an empty list
	c.FirstParty = true
	c.DPoPBoundAccessTokens = true
	c.IDTokenSignedResponseAlg = "ES256"
	return c
}

// keyClient authenticates with private_key_jwt against registered keys.
func keyClient(id string) storage.Client {
	c := publicClient(id)
	c.TokenEndpointAuthMethod = storage.AuthMethodPrivateKeyJWT
	c.FirstParty = false
	c.JWKS = `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
	c.TokenEndpointAuthSigningAlg = "ES256"
	c.MinimumACR = "phrh"
	return c
}

func mustClient(t *testing.T, s Backend, c storage.Client) storage.Client {
	t.Helper()
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("CreateClient(%s): %v", c.ID, err)
	}
	got, err := s.GetClient(t.Context(), c.ID)
	if err != nil {
		t.Fatalf("GetClient(%s): %v", c.ID, err)
	}
	return got
}

func mustUser(t *testing.T, s Backend, email string) storage.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), storage.User{Email: email, PasswordHash: "$argon2id$fake"}, storage.Effects{})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

// newToken is a refresh token of family reqID; its request is opaque bytes
// naming the family.
func newToken(sig, reqID, clientID, userID string, expires time.Time) storage.RefreshToken {
	return storage.RefreshToken{
		Signature: sig, RequestID: reqID, ClientID: clientID, UserID: userID,
		AccessSignature: "at-" + sig[len("rt-"):], ExpiresAt: expires,
		Request: []byte(`{"id":"` + reqID + `","client_id":"` + clientID + `"}`),
	}
}

// setup is a client, a user and one refresh token, rt-1 of family "req-1".
type setup struct {
	client storage.Client
	user   storage.User
	token  storage.RefreshToken
}

func newSetup(t *testing.T, s Backend) setup {
	t.Helper()
	c := mustClient(t, s, confidentialClient("app"))
	u := mustUser(t, s, "alice@example.com")
	tok := newToken("rt-1", "req-1", c.ID, u.ID, time.Now().Add(time.Hour))
	if err := s.CreateRefreshToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateRefreshToken: %v", err)
	}
	return setup{client: c, user: u, token: tok}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// recent checks that a store-assigned time is set and about now.
func recent(t *testing.T, what string, at time.Time) {
	t.Helper()
	if d := time.Since(at); at.IsZero() || d < -time.Minute || d > time.Minute {
		t.Fatalf("%s = %v, want about now", what, at)
	}
}

func outbox(t *testing.T, s Backend) []storage.MailJob {
	t.Helper()
	m, err := s.MailOutbox(t.Context())
	noErr(t, "MailOutbox", err)
	return m
}

func audit(t *testing.T, s Backend, userID string) []storage.AuditEvent {
	t.Helper()
	a, err := s.ListAudit(t.Context(), userID, 0)
	noErr(t, "ListAudit", err)
	return a
}

func effects(kind, to string) storage.Effects {
	return storage.Effects{
		Audit: []storage.AuditEvent{{Kind: kind, IP: "192.0.2.1", Detail: map[string]string{"why": kind}}},
		Mail:  []storage.MailJob{{To: to, Template: kind, Data: map[string]string{"k": "v"}, Locale: "de"}},
	}
}

// begin starts a transaction. It is rolled back when the test ends, so
// that a failing case never leaves a connection busy (closing a pool waits
// for it); rolling back a committed transaction is a no-op.
func begin(t *testing.T, s Backend, ctx context.Context) context.Context {
	t.Helper()
	ctx, err := s.BeginTx(ctx)
	noErr(t, "BeginTx", err)
	t.Cleanup(func() { _ = s.Rollback(ctx) })
	return ctx
}

// parallel runs f n times at once and waits for all.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

// --- clients ---

func clientCases() []testCase {
	return []testCase{
		{name: "client-create-get-round-trips-every-field", run: func(t *testing.T, s Backend) {
			for _, want := range []storage.Client{confidentialClient("conf"), publicClient("pub"), keyClient("jwt")} {
				got := mustClient(t, s, want)
				recent(t, "CreatedAt", got.CreatedAt)
				if !got.UpdatedAt.Equal(got.CreatedAt) {
					t.Errorf("UpdatedAt %v != CreatedAt %v", got.UpdatedAt, got.CreatedAt)
				}
				if want.PostLogoutRedirectURIs == nil {
					want.PostLogoutRedirectURIs = []string{}
				}
				got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("GetClient:\n got %+v\nwant %+v", got, want)
				}
				if got.Public() != (want.TokenEndpointAuthMethod == storage.AuthMethodNone) {
					t.Errorf("Public() = %v", got.Public())
				}
			}
		}},
		{name: "client-duplicate-id-already-exists", run: func(t *testing.T, s Backend) {
			mustClient(t, s, confidentialClient("app"))
			wantErr(t, "CreateClient again", s.CreateClient(t.Context(), publicClient("app")), storage.ErrAlreadyExists)
		}},
		{name: "client-unknown-not-found", run: func(t *testing.T, s Backend) {
			_, err := s.GetClient(t.Context(), "nope")
			wantErr(t, "GetClient", err, storage.ErrNotFound)
			wantErr(t, "UpdateClient", s.UpdateClient(t.Context(), confidentialClient("nope")), storage.ErrNotFound)
			wantErr(t, "DeleteClient", s.DeleteClient(t.Context(), "nope"), storage.ErrNotFound)
		}},
		{name: "client-invalid-rejected", run: func(t *testing.T, s Backend) {
			bad := map[string]storage.Client{}
			c := confidentialClient("a")
			c.TokenEndpointAuthMethod = "tls_client_auth"
			bad["unknown auth method"] = c
			c = keyClient("d")
			c.JWKS = ""
			bad["private_key_jwt without keys"] = c
			c = keyClient("e")
			c.JWKSURI = "https://keys.example.com/jwks.json"
			bad["private_key_jwt with keys from two sources"] = c
			c = keyClient("f")
			c.SecretHash = hash("x")
			bad["private_key_jwt with a secret"] = c
			c = confidentialClient("g")
			c.JWKSURI = "https://keys.example.com/jwks.json"
			bad["keys on a secret client"] = c
			c = keyClient("h")
			c.TokenEndpointAuthSigningAlg = "HS256"
			bad["a symmetric assertion algorithm"] = c
			c = confidentialClient("b")
			c.SecretHash = nil
			bad["confidential without secret"] = c
			c = publicClient("c")
			c.SecretHash = hash("x")
			bad["public with secret"] = c
			for what, c := range bad {
				if err := s.CreateClient(t.Context(), c); err == nil {
					t.Errorf("CreateClient accepted a client with %s", what)
				}
			}
			clients, err := s.ListClients(t.Context())
			noErr(t, "ListClients", err)
			if len(clients) != 0 {
				t.Errorf("ListClients = %d clients, want none", len(clients))
			}
		}},
		{name: "client-list-oldest-first", run: func(t *testing.T, s Backend) {
			for _, id := range []string{"c1", "c2", "c3"} {
				mustClient(t, s, confidentialClient(id))
				time.Sleep(2 * time.Millisecond)
			}
			clients, err := s.ListClients(t.Context())
			noErr(t, "ListClients", err)
			var ids []string
			for _, c := range clients {
				ids = append(ids, c.ID)
			}
			if !reflect.DeepEqual(ids, []string{"c1", "c2", "c3"}) {
				t.Errorf("ListClients = %v", ids)
			}
		}},
		{name: "client-update-replaces-fields-keeps-created", run: func(t *testing.T, s Backend) {
			before := mustClient(t, s, confidentialClient("app"))
			time.Sleep(2 * time.Millisecond)
			c := publicClient("app")
			c.Name = "Renamed"
			c.RedirectURIs = []string{"http://127.0.0.1/cb", "app:/cb"}
			noErr(t, "UpdateClient", s.UpdateClient(t.Context(), c))
			got, err := s.GetClient(t.Context(), "app")
			noErr(t, "GetClient", err)
			if got.Name != "Renamed" || got.SecretHash != nil || !got.Public() || len(got.RedirectURIs) != 2 || !got.FirstParty || !got.DPoPBoundAccessTokens ||
				got.IDTokenSignedResponseAlg != "ES256" {
				t.Errorf("after update: %+v", got)
			}
			if !got.CreatedAt.Equal(before.CreatedAt) || !got.UpdatedAt.After(before.UpdatedAt) {
				t.Errorf("timestamps: created %v→%v, updated %v→%v", before.CreatedAt, got.CreatedAt, before.UpdatedAt, got.UpdatedAt)
			}
		}},
		{name: "client-delete-removes-consents-and-refresh-tokens", run: func(t *testing.T, s Backend) {
			x := newSetup(t, s)
			other := mustClient(t, s, confidentialClient("other"))
			noErr(t, "SaveConsent", s.SaveConsent(t.Context(), storage.Consent{UserID: x.user.ID, ClientID: "app", Scopes: []string{"openid"}}))
			noErr(t, "SaveConsent", s.SaveConsent(t.Context(), storage.Consent{UserID: x.user.ID, ClientID: "other", Scopes: []string{"openid"}}))
			noErr(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), newToken("rt-other", "req-o", other.ID, x.user.ID, time.Time{})))

			noErr(t, "DeleteClient", s.DeleteClient(t.Context(), "app"))
			_, err := s.GetClient(t.Context(), "app")
			wantErr(t, "GetClient", err, storage.ErrNotFound)
			_, err = s.GetConsent(t.Context(), x.user.ID, "app")
			wantErr(t, "GetConsent", err, storage.ErrNotFound)
			_, err = s.GetRefreshToken(t.Context(), "rt-1", 0)
			wantErr(t, "GetRefreshToken", err, storage.ErrNotFound)
			// The other client's data stays.
			_, err = s.GetConsent(t.Context(), x.user.ID, "other")
			noErr(t, "GetConsent(other)", err)
			wantState(t, s, "rt-other", 0, storage.RefreshActive)
		}},
	}
}

// --- users ---

func userCases() []testCase {
	return []testCase{
		{name: "user-create-assigns-id-timestamps-and-default-role", run: func(t *testing.T, s Backend) {
			in := storage.User{
				Email: "Alice@Example.com", Name: "Alice", PasswordHash: "$argon2id$x",
				PasswordMustChange: true, EmailVerified: true, TOTPSecret: []byte("sealed"), Locale: "de",
			}
			u, err := s.CreateUser(t.Context(), in, storage.Effects{})
			noErr(t, "CreateUser", err)
			if u.ID == "" || u.Role != storage.RoleUser {
				t.Fatalf("CreateUser = %+v, want an ID and role user", u)
			}
			recent(t, "CreatedAt", u.CreatedAt)
			if !u.LastLoginAt.IsZero() {
				t.Errorf("LastLoginAt = %v, want zero", u.LastLoginAt)
			}
			got, err := s.GetUser(t.Context(), u.ID)
			noErr(t, "GetUser", err)
			if !reflect.DeepEqual(got, u) {
				t.Errorf("GetUser:\n got %+v\nwant %+v", got, u)
			}
			if got.Email != "Alice@Example.com" {
				t.Errorf("Email = %q, want it stored as given", got.Email)
			}
			if !got.TOTPEnabled() {
				t.Error("TOTPSecret lost")
			}
			other := mustUser(t, s, "bob@example.com")
			if other.ID == u.ID {
				t.Error("two users share an ID")
			}
		}},
		{name: "user-email-unique-case-insensitively", run: func(t *testing.T, s Backend) {
			mustUser(t, s, "alice@example.com")
			_, err := s.CreateUser(t.Context(), storage.User{Email: "ALICE@example.COM"}, effects("user_created", "x@example.com"))
			wantErr(t, "CreateUser with the same email in capitals", err, storage.ErrAlreadyExists)
			if a := audit(t, s, ""); len(a) != 0 {
				t.Errorf("a failed create left audit events: %+v", a)
			}
			if m := outbox(t, s); len(m) != 0 {
				t.Errorf("a failed create left mail: %+v", m)
			}
		}},
		{name: "user-get-by-email-ignores-case", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "Alice@Example.com")
			got, err := s.GetUserByEmail(t.Context(), "aLiCe@eXaMpLe.CoM")
			noErr(t, "GetUserByEmail", err)
			if got.ID != u.ID {
				t.Errorf("GetUserByEmail = %s, want %s", got.ID, u.ID)
			}
			_, err = s.GetUserByEmail(t.Context(), "bob@example.com")
			wantErr(t, "GetUserByEmail(unknown)", err, storage.ErrNotFound)
			_, err = s.GetUser(t.Context(), "no-such-id")
			wantErr(t, "GetUser(unknown)", err, storage.ErrNotFound)
		}},
		{name: "user-invalid-rejected", run: func(t *testing.T, s Backend) {
			if _, err := s.CreateUser(t.Context(), storage.User{Email: "a@example.com", Role: "root"}, storage.Effects{}); err == nil {
				t.Error("CreateUser accepted role root")
			}
			if _, err := s.CreateUser(t.Context(), storage.User{}, storage.Effects{}); err == nil {
				t.Error("CreateUser accepted an empty email")
			}
			u := mustUser(t, s, "a@example.com")
			_, err := s.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(u *storage.User) error { u.Role = "root"; return nil })
			if err == nil {
				t.Error("UpdateUser accepted role root")
			}
		}},
		{name: "user-list-oldest-first", run: func(t *testing.T, s Backend) {
			var want []string
			for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
				want = append(want, mustUser(t, s, e).ID)
				time.Sleep(2 * time.Millisecond)
			}
			users, err := s.ListUsers(t.Context())
			noErr(t, "ListUsers", err)
			var got []string
			for _, u := range users {
				got = append(got, u.ID)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ListUsers = %v, want %v", got, want)
			}
		}},
		{name: "user-create-writes-effects-with-the-new-id", run: func(t *testing.T, s Backend) {
			u, err := s.CreateUser(t.Context(), storage.User{Email: "a@example.com"}, effects("user_created", "a@example.com"))
			noErr(t, "CreateUser", err)
			a := audit(t, s, u.ID)
			if len(a) != 1 || a[0].Kind != "user_created" {
				t.Errorf("audit of the new user = %+v", a)
			}
			if m := outbox(t, s); len(m) != 1 || m[0].To != "a@example.com" || m[0].Template != "user_created" || m[0].Data["k"] != "v" || m[0].Locale != "de" {
				t.Errorf("mail = %+v", m)
			}
		}},
	}
}

func userUpdateCases() []testCase {
	return []testCase{
		{name: "user-update-applies-mutation-with-effects", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			login := time.Now().Add(-time.Minute)
			time.Sleep(2 * time.Millisecond)
			got, err := s.UpdateUser(t.Context(), u.ID, effects("password_changed", "a@example.com"), func(v *storage.User) error {
				if v.ID != u.ID || v.Email != u.Email {
					t.Errorf("mutate got %+v, want the stored user", v)
				}
				v.PasswordHash = "$argon2id$new"
				v.Role = storage.RoleAdmin
				v.LastLoginAt = login
				v.Locale = "de"
				v.ID = "hijacked"             // ignored
				v.CreatedAt = time.Unix(0, 0) // ignored
				return nil
			})
			noErr(t, "UpdateUser", err)
			stored, err := s.GetUser(t.Context(), u.ID)
			noErr(t, "GetUser", err)
			if !reflect.DeepEqual(got, stored) {
				t.Errorf("UpdateUser returned\n %+v\nbut stored\n %+v", got, stored)
			}
			if stored.ID != u.ID || stored.PasswordHash != "$argon2id$new" || stored.Role != storage.RoleAdmin ||
				!stored.CreatedAt.Equal(u.CreatedAt) || !stored.UpdatedAt.After(u.UpdatedAt) ||
				stored.LastLoginAt.Sub(login).Abs() > time.Millisecond || stored.Locale != "de" {
				t.Errorf("after UpdateUser: %+v", stored)
			}
			if a := audit(t, s, u.ID); len(a) != 1 || a[0].Kind != "password_changed" || a[0].IP != "192.0.2.1" {
				t.Errorf("audit = %+v", a)
			}
			if m := outbox(t, s); len(m) != 1 || m[0].Template != "password_changed" {
				t.Errorf("mail = %+v", m)
			}
		}},
		{name: "user-update-mutate-error-aborts-and-is-returned-as-is", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			_, err := s.UpdateUser(t.Context(), u.ID, effects("password_changed", "a@example.com"), func(v *storage.User) error {
				v.PasswordHash = "changed"
				return errBoom
			})
			if err != errBoom {
				t.Fatalf("UpdateUser error = %v, want mutate's error itself", err)
			}
			got, err := s.GetUser(t.Context(), u.ID)
			noErr(t, "GetUser", err)
			if got.PasswordHash != u.PasswordHash || !got.UpdatedAt.Equal(u.UpdatedAt) {
				t.Errorf("aborted update changed the user: %+v", got)
			}
			if a := audit(t, s, ""); len(a) != 0 {
				t.Errorf("aborted update left audit events: %+v", a)
			}
			if m := outbox(t, s); len(m) != 0 {
				t.Errorf("aborted update left mail: %+v", m)
			}
		}},
		{name: "user-update-unknown-not-found", run: func(t *testing.T, s Backend) {
			called := false
			_, err := s.UpdateUser(t.Context(), "no-such-id", storage.Effects{}, func(*storage.User) error { called = true; return nil })
			wantErr(t, "UpdateUser", err, storage.ErrNotFound)
			if called {
				t.Error("mutate called for a missing user")
			}
		}},
		{name: "user-update-email-collision-already-exists", run: func(t *testing.T, s Backend) {
			mustUser(t, s, "a@example.com")
			b := mustUser(t, s, "b@example.com")
			_, err := s.UpdateUser(t.Context(), b.ID, effects("email_changed", "b@example.com"), func(v *storage.User) error { v.Email = "A@example.com"; return nil })
			wantErr(t, "UpdateUser", err, storage.ErrAlreadyExists)
			if m := outbox(t, s); len(m) != 0 {
				t.Errorf("failed update left mail: %+v", m)
			}
			// A change of case of one's own email is allowed.
			got, err := s.UpdateUser(t.Context(), b.ID, storage.Effects{}, func(v *storage.User) error { v.Email = "B@Example.com"; return nil })
			noErr(t, "UpdateUser(own email, new case)", err)
			if got.Email != "B@Example.com" {
				t.Errorf("Email = %q", got.Email)
			}
			byOld, err := s.GetUserByEmail(t.Context(), "b@example.com")
			noErr(t, "GetUserByEmail", err)
			if byOld.ID != b.ID {
				t.Error("GetUserByEmail lost the user after a change of case")
			}
		}},
		{name: "user-update-concurrent-mutations-all-apply", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			const n = 8
			parallel(n, func(int) {
				_, err := s.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(v *storage.User) error {
					v.Name += "x"
					return nil
				})
				if err != nil {
					t.Errorf("UpdateUser: %v", err)
				}
			})
			got, err := s.GetUser(t.Context(), u.ID)
			noErr(t, "GetUser", err)
			if len(got.Name) != n {
				t.Errorf("Name = %q after %d concurrent appends: an update was lost", got.Name, n)
			}
		}},
	}
}

// --- backup codes ---

func backupCodeCases() []testCase {
	return []testCase{
		{name: "backup-code-single-use", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			noErr(t, "ReplaceBackupCodes", s.ReplaceBackupCodes(t.Context(), u.ID, [][]byte{hash("1"), hash("2"), hash("3")}, effects("backup_codes_created", "a@example.com")))
			n, err := s.CountBackupCodes(t.Context(), u.ID)
			noErr(t, "CountBackupCodes", err)
			if n != 3 {
				t.Fatalf("CountBackupCodes = %d, want 3", n)
			}
			noErr(t, "UseBackupCode", s.UseBackupCode(t.Context(), u.ID, hash("2")))
			wantErr(t, "UseBackupCode again", s.UseBackupCode(t.Context(), u.ID, hash("2")), storage.ErrNotFound)
			wantErr(t, "UseBackupCode(unknown)", s.UseBackupCode(t.Context(), u.ID, hash("9")), storage.ErrNotFound)
			other := mustUser(t, s, "b@example.com")
			wantErr(t, "UseBackupCode(other user's)", s.UseBackupCode(t.Context(), other.ID, hash("1")), storage.ErrNotFound)
			if n, _ := s.CountBackupCodes(t.Context(), u.ID); n != 2 {
				t.Errorf("CountBackupCodes = %d, want 2", n)
			}
			if a := audit(t, s, u.ID); len(a) != 1 {
				t.Errorf("audit = %+v", a)
			}
			if m := outbox(t, s); len(m) != 1 {
				t.Errorf("mail = %+v", m)
			}
		}},
		{name: "backup-code-replace-discards-old-codes", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			noErr(t, "ReplaceBackupCodes", s.ReplaceBackupCodes(t.Context(), u.ID, [][]byte{hash("1"), hash("2")}, storage.Effects{}))
			noErr(t, "UseBackupCode", s.UseBackupCode(t.Context(), u.ID, hash("1")))
			noErr(t, "ReplaceBackupCodes", s.ReplaceBackupCodes(t.Context(), u.ID, [][]byte{hash("1"), hash("3")}, storage.Effects{}))
			wantErr(t, "UseBackupCode(old)", s.UseBackupCode(t.Context(), u.ID, hash("2")), storage.ErrNotFound)
			noErr(t, "UseBackupCode(new set, same hash as a used old one)", s.UseBackupCode(t.Context(), u.ID, hash("1")))
			if n, _ := s.CountBackupCodes(t.Context(), u.ID); n != 1 {
				t.Errorf("CountBackupCodes = %d, want 1", n)
			}
			noErr(t, "ReplaceBackupCodes(none)", s.ReplaceBackupCodes(t.Context(), u.ID, nil, storage.Effects{}))
			if n, _ := s.CountBackupCodes(t.Context(), u.ID); n != 0 {
				t.Errorf("CountBackupCodes = %d, want 0", n)
			}
			wantErr(t, "ReplaceBackupCodes(unknown user)", s.ReplaceBackupCodes(t.Context(), "no-such-id", [][]byte{hash("1")}, storage.Effects{}), storage.ErrNotFound)
			if n, err := s.CountBackupCodes(t.Context(), "no-such-id"); err != nil || n != 0 {
				t.Errorf("CountBackupCodes(unknown user) = %d, %v", n, err)
			}
		}},
		{name: "backup-code-racing-uses-one-wins", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			noErr(t, "ReplaceBackupCodes", s.ReplaceBackupCodes(t.Context(), u.ID, [][]byte{hash("1")}, storage.Effects{}))
			var wins atomic.Int32
			parallel(12, func(int) {
				err := s.UseBackupCode(t.Context(), u.ID, hash("1"))
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, storage.ErrNotFound):
					t.Errorf("UseBackupCode: %v", err)
				}
			})
			if wins.Load() != 1 {
				t.Errorf("%d racing uses of one code succeeded, want 1", wins.Load())
			}
		}},
	}
}

// --- TOTP ---

// totpState is what SetTOTP changes, as seen from outside.
type totpState struct {
	secret    string
	updatedAt int64 // µs: comparable with ==
	codes     int
	audit     int
	mail      int
}

func totpStateOf(t *testing.T, s Backend, userID string) totpState {
	t.Helper()
	u, err := s.GetUser(t.Context(), userID)
	noErr(t, "GetUser", err)
	n, err := s.CountBackupCodes(t.Context(), userID)
	noErr(t, "CountBackupCodes", err)
	return totpState{secret: string(u.TOTPSecret), updatedAt: u.UpdatedAt.UnixMicro(), codes: n, audit: len(audit(t, s, "")), mail: len(outbox(t, s))}
}

func totpCases() []testCase {
	return []testCase{
		{name: "totp-set-stores-secret-and-replaces-codes-with-effects", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			noErr(t, "ReplaceBackupCodes", s.ReplaceBackupCodes(t.Context(), u.ID, [][]byte{hash("old")}, storage.Effects{}))
			time.Sleep(2 * time.Millisecond)
			got, err := s.SetTOTP(t.Context(), u.ID, []byte("sealed-1"), [][]byte{hash("1"), hash("2"), hash("3")}, effects("totp_enabled", "a@example.com"))
			noErr(t, "SetTOTP", err)
			stored, err := s.GetUser(t.Context(), u.ID)
			noErr(t, "GetUser", err)
			if !reflect.DeepEqual(got, stored) {
				t.Errorf("SetTOTP returned\n %+v\nbut stored\n %+v", got, stored)
			}
			if string(stored.TOTPSecret) != "sealed-1" || !stored.UpdatedAt.After(u.UpdatedAt) || stored.PasswordHash != u.PasswordHash {
				t.Errorf("after SetTOTP: %+v", stored)
			}
			if !stored.TOTPEnabledAt.Equal(stored.UpdatedAt) {
				t.Errorf("TOTPEnabledAt = %v, want the time of SetTOTP %v", stored.TOTPEnabledAt, stored.UpdatedAt)
			}
			if n, _ := s.CountBackupCodes(t.Context(), u.ID); n != 3 {
				t.Errorf("CountBackupCodes = %d, want 3", n)
			}
			wantErr(t, "UseBackupCode(replaced)", s.UseBackupCode(t.Context(), u.ID, hash("old")), storage.ErrNotFound)
			noErr(t, "UseBackupCode(new)", s.UseBackupCode(t.Context(), u.ID, hash("2")))
			if a := audit(t, s, u.ID); len(a) != 1 || a[0].Kind != "totp_enabled" {
				t.Errorf("audit = %+v", a)
			}
			if m := outbox(t, s); len(m) != 1 || m[0].Template != "totp_enabled" {
				t.Errorf("mail = %+v", m)
			}
		}},
		{name: "totp-clear-removes-secret-and-every-code-with-effects", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			_, err := s.SetTOTP(t.Context(), u.ID, []byte("sealed-1"), [][]byte{hash("1"), hash("2")}, storage.Effects{})
			noErr(t, "SetTOTP", err)
			noErr(t, "UseBackupCode", s.UseBackupCode(t.Context(), u.ID, hash("1")))
			got, err := s.SetTOTP(t.Context(), u.ID, nil, nil, effects("totp_disabled", "a@example.com"))
			noErr(t, "SetTOTP(nil)", err)
			if got.TOTPEnabled() || got.TOTPSecret != nil || !got.TOTPEnabledAt.IsZero() {
				t.Errorf("SetTOTP(nil) returned secret %q enabled at %v", got.TOTPSecret, got.TOTPEnabledAt)
			}
			stored, err := s.GetUser(t.Context(), u.ID)
			noErr(t, "GetUser", err)
			if !reflect.DeepEqual(got, stored) {
				t.Errorf("SetTOTP returned\n %+v\nbut stored\n %+v", got, stored)
			}
			if n, _ := s.CountBackupCodes(t.Context(), u.ID); n != 0 {
				t.Errorf("CountBackupCodes = %d, want 0", n)
			}
			wantErr(t, "UseBackupCode(cleared)", s.UseBackupCode(t.Context(), u.ID, hash("2")), storage.ErrNotFound)
			if a := audit(t, s, u.ID); len(a) != 1 || a[0].Kind != "totp_disabled" {
				t.Errorf("audit = %+v", a)
			}
			// Clearing what is clear already is no error: an operator's
			// reset of a user without TOTP still removes stray codes.
			_, err = s.SetTOTP(t.Context(), u.ID, nil, nil, storage.Effects{})
			noErr(t, "SetTOTP(nil) again", err)
		}},
		{name: "totp-enabled-at-survives-other-updates-and-clears-with-the-secret", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			on, err := s.SetTOTP(t.Context(), u.ID, []byte("sealed-1"), nil, storage.Effects{})
			noErr(t, "SetTOTP", err)
			got, err := s.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(v *storage.User) error { v.Name = "A"; return nil })
			noErr(t, "UpdateUser(name)", err)
			if !got.TOTPEnabledAt.Equal(on.TOTPEnabledAt) {
				t.Errorf("a name change moved TOTPEnabledAt from %v to %v", on.TOTPEnabledAt, got.TOTPEnabledAt)
			}
			got, err = s.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(v *storage.User) error { v.TOTPSecret = nil; return nil })
			noErr(t, "UpdateUser(no TOTP)", err)
			stored, err := s.GetUser(t.Context(), u.ID)
			noErr(t, "GetUser", err)
			if !got.TOTPEnabledAt.IsZero() || !stored.TOTPEnabledAt.IsZero() {
				t.Errorf("TOTPEnabledAt after clearing the secret: returned %v, stored %v", got.TOTPEnabledAt, stored.TOTPEnabledAt)
			}
		}},
		{name: "totp-set-while-set-already-exists-and-changes-nothing", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			_, err := s.SetTOTP(t.Context(), u.ID, []byte("sealed-1"), [][]byte{hash("1")}, effects("totp_enabled", "a@example.com"))
			noErr(t, "SetTOTP", err)
			before := totpStateOf(t, s, u.ID)
			_, err = s.SetTOTP(t.Context(), u.ID, []byte("sealed-2"), [][]byte{hash("2")}, effects("totp_enabled", "a@example.com"))
			wantErr(t, "SetTOTP(while set)", err, storage.ErrAlreadyExists)
			if after := totpStateOf(t, s, u.ID); after != before {
				t.Errorf("refused SetTOTP changed %+v to %+v", before, after)
			}
			noErr(t, "UseBackupCode(first set)", s.UseBackupCode(t.Context(), u.ID, hash("1")))
		}},
		{name: "totp-failure-leaves-nothing-half-done", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			noErr(t, "ReplaceBackupCodes", s.ReplaceBackupCodes(t.Context(), u.ID, [][]byte{hash("old")}, storage.Effects{}))
			// The store refuses an audit event without a kind: for a
			// transactional backend that happens after the secret and the
			// codes are written, and must undo them.
			badFx := effects("totp_enabled", "a@example.com")
			badFx.Audit = append(badFx.Audit, storage.AuditEvent{})
			check := func(what string, err error, want totpState) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s: no error", what)
				}
				if got := totpStateOf(t, s, u.ID); got != want {
					t.Fatalf("failed %s changed %+v to %+v", what, want, got)
				}
			}
			off := totpStateOf(t, s, u.ID)
			_, err := s.SetTOTP(t.Context(), u.ID, []byte("sealed-1"), [][]byte{hash("1"), hash("2")}, badFx)
			check("SetTOTP with refused effects", err, off)
			_, err = s.SetTOTP(t.Context(), u.ID, []byte("sealed-1"), [][]byte{hash("1"), hash("1")}, effects("totp_enabled", "a@example.com"))
			wantErr(t, "SetTOTP(duplicate codes)", err, storage.ErrAlreadyExists)
			check("SetTOTP with duplicate codes", err, off)
			_, err = s.SetTOTP(t.Context(), u.ID, nil, [][]byte{hash("1")}, storage.Effects{})
			check("SetTOTP with codes but no secret", err, off)
			noErr(t, "UseBackupCode(old)", s.UseBackupCode(t.Context(), u.ID, hash("old")))

			_, err = s.SetTOTP(t.Context(), u.ID, []byte("sealed-1"), [][]byte{hash("1"), hash("2")}, storage.Effects{})
			noErr(t, "SetTOTP", err)
			on := totpStateOf(t, s, u.ID)
			_, err = s.SetTOTP(t.Context(), u.ID, nil, nil, badFx)
			check("clearing SetTOTP with refused effects", err, on)
			noErr(t, "UseBackupCode(kept)", s.UseBackupCode(t.Context(), u.ID, hash("1")))
		}},
		{name: "totp-unknown-user-not-found", run: func(t *testing.T, s Backend) {
			_, err := s.SetTOTP(t.Context(), "no-such-id", []byte("sealed-1"), [][]byte{hash("1")}, effects("totp_enabled", "a@example.com"))
			wantErr(t, "SetTOTP", err, storage.ErrNotFound)
			_, err = s.SetTOTP(t.Context(), "no-such-id", nil, nil, storage.Effects{})
			wantErr(t, "SetTOTP(nil)", err, storage.ErrNotFound)
			if m := outbox(t, s); len(m) != 0 {
				t.Errorf("mail = %+v", m)
			}
		}},
		{name: "totp-racing-enrollments-one-wins", run: func(t *testing.T, s Backend) {
			u := mustUser(t, s, "a@example.com")
			const n = 8
			var wins atomic.Int32
			var winner atomic.Int32
			parallel(n, func(i int) {
				_, err := s.SetTOTP(t.Context(), u.ID, fmt.Appendf(nil, "sealed-%d", i),
					[][]byte{hash(fmt.Sprint(i, "a")), hash(fmt.Sprint(i, "b"))}, storage.Effects{})
				switch {
				case err == nil:
					wins.Add(1)
					winner.Store(int32(i))
				case !errors.Is(err, storage.ErrAlreadyExists):
					t.Errorf("SetTOTP: %v", err)
				}
			})
			if wins.Load() != 1 {
				t.Fatalf("%d racing enrollments succeeded, want 1", wins.Load())
			}
			w := winner.Load()
			st := totpStateOf(t, s, u.ID)
			if st.secret != fmt.Sprintf("sealed-%d", w) || st.codes != 2 {
				t.Errorf("stored %+v, want the winner's secret and its 2 codes", st)
			}
			noErr(t, "UseBackupCode(winner's)", s.UseBackupCode(t.Context(), u.ID, hash(fmt.Sprint(w, "a"))))
		}},
	}
}

// --- consents ---

func consentCases() []testCase {
	return []testCase{
		{name: "consent-save-is-an-upsert", run: func(t *testing.T, s Backend) {
			mustClient(t, s, confidentialClient("app"))
			u := mustUser(t, s, "a@example.com")
			_, err := s.GetConsent(t.Context(), u.ID, "app")
			wantErr(t, "GetConsent before", err, storage.ErrNotFound)
			noErr(t, "SaveConsent", s.SaveConsent(t.Context(), storage.Consent{UserID: u.ID, ClientID: "app", Scopes: []string{"openid", "email"}}))
			first, err := s.GetConsent(t.Context(), u.ID, "app")
			noErr(t, "GetConsent", err)
			recent(t, "CreatedAt", first.CreatedAt)
			if !reflect.DeepEqual(first.Scopes, []string{"openid", "email"}) {
				t.Errorf("Scopes = %v", first.Scopes)
			}
			time.Sleep(2 * time.Millisecond)
			noErr(t, "SaveConsent again", s.SaveConsent(t.Context(), storage.Consent{UserID: u.ID, ClientID: "app", Scopes: []string{"openid"}}))
			second, err := s.GetConsent(t.Context(), u.ID, "app")
			noErr(t, "GetConsent", err)
			if !reflect.DeepEqual(second.Scopes, []string{"openid"}) {
				t.Errorf("Scopes = %v, want the new ones to replace the old", second.Scopes)
			}
			if !second.CreatedAt.Equal(first.CreatedAt) || !second.UpdatedAt.After(first.UpdatedAt) {
				t.Errorf("timestamps %v/%v → %v/%v", first.CreatedAt, first.UpdatedAt, second.CreatedAt, second.UpdatedAt)
			}
		}},
		{name: "consent-unknown-user-or-client-not-found", run: func(t *testing.T, s Backend) {
			mustClient(t, s, confidentialClient("app"))
			u := mustUser(t, s, "a@example.com")
			wantErr(t, "SaveConsent(unknown user)", s.SaveConsent(t.Context(), storage.Consent{UserID: "no-such-id", ClientID: "app"}), storage.ErrNotFound)
			wantErr(t, "SaveConsent(unknown client)", s.SaveConsent(t.Context(), storage.Consent{UserID: u.ID, ClientID: "nope"}), storage.ErrNotFound)
		}},
		{name: "consent-list-by-user-ordered-by-client", run: func(t *testing.T, s Backend) {
			for _, id := range []string{"b-app", "a-app", "c-app"} {
				mustClient(t, s, confidentialClient(id))
			}
			u := mustUser(t, s, "a@example.com")
			v := mustUser(t, s, "b@example.com")
			for _, id := range []string{"b-app", "a-app"} {
				noErr(t, "SaveConsent", s.SaveConsent(t.Context(), storage.Consent{UserID: u.ID, ClientID: id, Scopes: []string{"openid"}}))
			}
			noErr(t, "SaveConsent", s.SaveConsent(t.Context(), storage.Consent{UserID: v.ID, ClientID: "c-app"}))
			list, err := s.ListConsents(t.Context(), u.ID)
			noErr(t, "ListConsents", err)
			if len(list) != 2 || list[0].ClientID != "a-app" || list[1].ClientID != "b-app" || list[0].UserID != u.ID {
				t.Errorf("ListConsents = %+v", list)
			}
			if list, _ := s.ListConsents(t.Context(), "no-such-id"); len(list) != 0 {
				t.Errorf("ListConsents(unknown) = %+v", list)
			}
		}},
		{name: "consent-delete-revokes-the-users-tokens-for-the-client", run: func(t *testing.T, s Backend) {
			x := newSetup(t, s)
			other := mustClient(t, s, confidentialClient("other"))
			bob := mustUser(t, s, "bob@example.com")
			ctx := t.Context()
			// A second family of alice's at app, one of alice's at other,
			// one of bob's at app.
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-2", "req-2", x.client.ID, x.user.ID, time.Time{})))
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-o", "req-o", other.ID, x.user.ID, time.Time{})))
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-b", "req-b", x.client.ID, bob.ID, time.Time{})))
			noErr(t, "SaveConsent", s.SaveConsent(ctx, storage.Consent{UserID: x.user.ID, ClientID: "app", Scopes: []string{"openid"}}))

			ids, err := s.DeleteConsent(ctx, x.user.ID, "app")
			noErr(t, "DeleteConsent", err)
			if !reflect.DeepEqual(ids, []string{"req-1", "req-2"}) {
				t.Errorf("DeleteConsent revoked %v, want [req-1 req-2]", ids)
			}
			_, err = s.GetConsent(ctx, x.user.ID, "app")
			wantErr(t, "GetConsent", err, storage.ErrNotFound)
			for sig, want := range map[string]storage.RefreshState{"rt-1": storage.RefreshRevoked, "rt-2": storage.RefreshRevoked, "rt-o": storage.RefreshActive, "rt-b": storage.RefreshActive} {
				wantState(t, s, sig, 0, want)
			}
			_, err = s.DeleteConsent(ctx, x.user.ID, "app")
			wantErr(t, "DeleteConsent again", err, storage.ErrNotFound)
		}},
		{name: "consent-delete-without-consent-still-revokes-tokens", run: func(t *testing.T, s Backend) {
			// A first-party client has tokens but no consent.
			x := newSetup(t, s)
			ids, err := s.DeleteConsent(t.Context(), x.user.ID, "app")
			noErr(t, "DeleteConsent", err)
			if !reflect.DeepEqual(ids, []string{"req-1"}) {
				t.Errorf("DeleteConsent = %v", ids)
			}
		}},
	}
}

// --- refresh tokens ---

func refreshCases() []testCase {
	var cases []testCase
	cases = append(cases, refreshRecordCases()...)
	cases = append(cases, refreshRotationCases()...)
	cases = append(cases, refreshGraceCases()...)
	cases = append(cases, refreshRevocationCases()...)
	cases = append(cases, transactionCases()...)
	return cases
}

// state reads a token's state with the grace period.
func state(t *testing.T, s Backend, sig string, grace time.Duration) storage.RefreshState {
	t.Helper()
	rec, err := s.GetRefreshToken(t.Context(), sig, grace)
	noErr(t, "GetRefreshToken("+sig+")", err)
	return rec.State
}

func wantState(t *testing.T, s Backend, sig string, grace time.Duration, want storage.RefreshState) {
	t.Helper()
	if got := state(t, s, sig, grace); got != want {
		t.Errorf("state of %s = %v, want %v", sig, got, want)
	}
}

func refreshRecordCases() []testCase {
	return []testCase{
		{name: "refresh-create-get-round-trips-the-record", run: func(t *testing.T, s Backend) {
			x := newSetup(t, s)
			rec, err := s.GetRefreshToken(t.Context(), "rt-1", 0)
			noErr(t, "GetRefreshToken", err)
			if rec.Signature != "rt-1" || rec.RequestID != "req-1" || rec.ClientID != "app" || rec.UserID != x.user.ID ||
				rec.AccessSignature != "at-1" || !rec.Active || rec.State != storage.RefreshActive ||
				!rec.RotatedAt.IsZero() || !rec.RevokedAt.IsZero() ||
				rec.ExpiresAt.Sub(x.token.ExpiresAt).Abs() > time.Millisecond || !reflect.DeepEqual(rec.Request, x.token.Request) {
				t.Errorf("GetRefreshToken = %+v", rec)
			}
			recent(t, "CreatedAt", rec.CreatedAt)
		}},
		{name: "refresh-without-user-or-expiry", run: func(t *testing.T, s Backend) {
			x := newSetup(t, s)
			noErr(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), newToken("rt-2", "req-2", x.client.ID, "", time.Time{})))
			rec, err := s.GetRefreshToken(t.Context(), "rt-2", 0)
			noErr(t, "GetRefreshToken", err)
			if rec.RequestID != "req-2" || rec.UserID != "" || !rec.ExpiresAt.IsZero() || rec.State != storage.RefreshActive {
				t.Errorf("record of a token without user and expiry = %+v", rec)
			}
		}},
		{name: "refresh-unknown-not-found", run: func(t *testing.T, s Backend) {
			x := newSetup(t, s)
			_, err := s.GetRefreshToken(t.Context(), "nope", 0)
			wantErr(t, "GetRefreshToken", err, storage.ErrNotFound)
			wantErr(t, "RotateRefreshToken", s.RotateRefreshToken(t.Context(), "nope", 0), storage.ErrNotFound)
			wantErr(t, "DeactivateRefreshToken", s.DeactivateRefreshToken(t.Context(), "nope"), storage.ErrNotFound)
			noErr(t, "RevokeRefreshFamily(unknown family)", s.RevokeRefreshFamily(t.Context(), "no-such-request", storage.Effects{}))
			// A token for a client that does not exist is refused.
			wantErr(t, "CreateRefreshToken(unknown client)", s.CreateRefreshToken(t.Context(), newToken("rt-g", "req-g", "ghost", "", time.Time{})), storage.ErrNotFound)
			wantErr(t, "CreateRefreshToken(same signature)", s.CreateRefreshToken(t.Context(), x.token), storage.ErrAlreadyExists)
		}},
		{name: "refresh-delete-expired-keeps-live-and-unexpiring-tokens", run: func(t *testing.T, s Backend) {
			x := newSetup(t, s) // rt-1 expires in an hour
			ctx := t.Context()
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-old", "req-old", x.client.ID, x.user.ID, time.Now().Add(-time.Hour))))
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-forever", "req-f", x.client.ID, x.user.ID, time.Time{})))
			// A rotated but unexpired token stays, for reuse detection.
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-rotated", "req-r", x.client.ID, x.user.ID, time.Now().Add(time.Hour))))
			noErr(t, "rotate", s.RotateRefreshToken(ctx, "rt-rotated", 0))

			n, err := s.DeleteExpiredRefreshTokens(ctx, time.Now())
			noErr(t, "DeleteExpiredRefreshTokens", err)
			if n != 1 {
				t.Errorf("DeleteExpiredRefreshTokens = %d, want 1", n)
			}
			_, err = s.GetRefreshToken(ctx, "rt-old", 0)
			wantErr(t, "GetRefreshToken(expired)", err, storage.ErrNotFound)
			for _, sig := range []string{"rt-1", "rt-forever", "rt-rotated"} {
				_, err := s.GetRefreshToken(ctx, sig, 0)
				noErr(t, "GetRefreshToken("+sig+")", err)
			}
		}},
	}
}

func refreshRotationCases() []testCase {
	return []testCase{
		{name: "refresh-rotated-is-kept-and-recognised-as-rotated", run: func(t *testing.T, s Backend) {
			newSetup(t, s)
			noErr(t, "RotateRefreshToken", s.RotateRefreshToken(t.Context(), "rt-1", 0))
			rec, err := s.GetRefreshToken(t.Context(), "rt-1", 0)
			noErr(t, "GetRefreshToken", err)
			if rec.Active || rec.State != storage.RefreshRotated || rec.RotatedAt.IsZero() || !rec.RevokedAt.IsZero() || rec.RequestID != "req-1" {
				t.Errorf("rotated record = %+v, want kept, inactive, rotated_at set", rec)
			}
			recent(t, "RotatedAt", rec.RotatedAt)
			wantErr(t, "RotateRefreshToken again", s.RotateRefreshToken(t.Context(), "rt-1", 0), storage.ErrInactive)
		}},
		{name: "refresh-deactivate-keeps-the-token-inactive-not-rotated", run: func(t *testing.T, s Backend) {
			newSetup(t, s)
			noErr(t, "DeactivateRefreshToken", s.DeactivateRefreshToken(t.Context(), "rt-1"))
			wantState(t, s, "rt-1", 0, storage.RefreshInactive)
			wantErr(t, "RotateRefreshToken(deactivated)", s.RotateRefreshToken(t.Context(), "rt-1", 0), storage.ErrInactive)
		}},
		{name: "refresh-parallel-rotations-one-winner", run: func(t *testing.T, s Backend) {
			x := newSetup(t, s)
			const n = 8
			var wins atomic.Int32
			parallel(n, func(i int) {
				// As the protocol's refresh handler does: read the token,
				// then rotate it and store its successor in one
				// transaction.
				ctx := t.Context()
				if rec, err := s.GetRefreshToken(ctx, "rt-1", 0); err != nil || !rec.State.Honoured() {
					if err != nil {
						t.Errorf("GetRefreshToken: %v", err)
					}
					return
				}
				ctx, err := s.BeginTx(ctx)
				if err != nil {
					t.Errorf("BeginTx: %v", err)
					return
				}
				err = s.RotateRefreshToken(ctx, "rt-1", 0)
				if err == nil {
					err = s.CreateRefreshToken(ctx, newToken(fmt.Sprintf("rt-next-%d", i), "req-1", x.client.ID, x.user.ID, time.Time{}))
				}
				if err == nil {
					err = s.Commit(ctx)
				} else if rbErr := s.Rollback(ctx); rbErr != nil {
					t.Errorf("Rollback: %v", rbErr)
				}
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, storage.ErrInactive) && !errors.Is(err, storage.ErrConflict):
					t.Errorf("rotation %d: %v", i, err)
				}
			})
			if wins.Load() != 1 {
				t.Fatalf("%d of %d parallel rotations won, want exactly 1", wins.Load(), n)
			}
			successors := 0
			for i := range n {
				if _, err := s.GetRefreshToken(t.Context(), fmt.Sprintf("rt-next-%d", i), 0); err == nil {
					successors++
				}
			}
			if successors != 1 {
				t.Errorf("%d successor tokens stored, want 1", successors)
			}
		}},
	}
}

func refreshGraceCases() []testCase {
	return []testCase{
		{name: "refresh-grace-period-honours-a-just-rotated-token", run: func(t *testing.T, s Backend) {
			newSetup(t, s)
			ctx := t.Context()
			noErr(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, "rt-1", time.Hour))
			wantState(t, s, "rt-1", time.Hour, storage.RefreshInGrace)
			// The same token without a grace period is plainly rotated.
			wantState(t, s, "rt-1", 0, storage.RefreshRotated)
			noErr(t, "RotateRefreshToken within the grace period", s.RotateRefreshToken(ctx, "rt-1", time.Hour))
			wantErr(t, "RotateRefreshToken without a grace period", s.RotateRefreshToken(ctx, "rt-1", 0), storage.ErrInactive)
			// Revocation ends the grace.
			noErr(t, "RevokeRefreshFamily", s.RevokeRefreshFamily(ctx, "req-1", storage.Effects{}))
			wantState(t, s, "rt-1", time.Hour, storage.RefreshRevoked)
			wantErr(t, "RotateRefreshToken after revocation", s.RotateRefreshToken(ctx, "rt-1", time.Hour), storage.ErrInactive)
		}},
		{name: "refresh-grace-period-covers-rotation-not-deactivation", run: func(t *testing.T, s Backend) {
			newSetup(t, s)
			noErr(t, "DeactivateRefreshToken", s.DeactivateRefreshToken(t.Context(), "rt-1"))
			wantState(t, s, "rt-1", time.Hour, storage.RefreshInactive)
			wantErr(t, "RotateRefreshToken(deactivated)", s.RotateRefreshToken(t.Context(), "rt-1", time.Hour), storage.ErrInactive)
		}},
		{name: "refresh-grace-period-ends", run: func(t *testing.T, s Backend) {
			newSetup(t, s)
			noErr(t, "RotateRefreshToken", s.RotateRefreshToken(t.Context(), "rt-1", time.Second))
			time.Sleep(1200 * time.Millisecond)
			wantState(t, s, "rt-1", time.Second, storage.RefreshRotated)
			wantErr(t, "RotateRefreshToken after the grace period", s.RotateRefreshToken(t.Context(), "rt-1", time.Second), storage.ErrInactive)
		}},
	}
}

func refreshRevocationCases() []testCase {
	return []testCase{
		{name: "refresh-revoke-family-reaches-the-whole-family", run: func(t *testing.T, s Backend) {
			x := newSetup(t, s)
			ctx := t.Context()
			// Rotate rt-1 → rt-2 → rt-3; another family stays alone.
			noErr(t, "rotate", s.RotateRefreshToken(ctx, "rt-1", 0))
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-2", "req-1", x.client.ID, x.user.ID, time.Time{})))
			noErr(t, "rotate", s.RotateRefreshToken(ctx, "rt-2", 0))
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-3", "req-1", x.client.ID, x.user.ID, time.Time{})))
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-x", "req-x", x.client.ID, x.user.ID, time.Time{})))

			noErr(t, "RevokeRefreshFamily", s.RevokeRefreshFamily(ctx, "req-1", storage.Effects{}))
			for _, sig := range []string{"rt-1", "rt-2", "rt-3"} {
				rec, err := s.GetRefreshToken(ctx, sig, time.Hour)
				noErr(t, "GetRefreshToken", err)
				if rec.Active || rec.RevokedAt.IsZero() || rec.State != storage.RefreshRevoked {
					t.Errorf("%s after revocation: %+v", sig, rec)
				}
			}
			wantState(t, s, "rt-x", 0, storage.RefreshActive)
			noErr(t, "RevokeRefreshFamily again", s.RevokeRefreshFamily(ctx, "req-1", storage.Effects{}))
		}},
		{name: "refresh-revoke-family-writes-effects", run: func(t *testing.T, s Backend) {
			newSetup(t, s)
			noErr(t, "RevokeRefreshFamily", s.RevokeRefreshFamily(t.Context(), "req-1", effects("refresh_token_reuse", "a@example.com")))
			wantState(t, s, "rt-1", 0, storage.RefreshRevoked)
			ev := audit(t, s, "")
			if len(ev) != 1 || ev[0].Kind != "refresh_token_reuse" {
				t.Errorf("audit = %+v", ev)
			}
			if m := outbox(t, s); len(m) != 1 || m[0].Template != "refresh_token_reuse" {
				t.Errorf("mail = %+v", m)
			}
			// A family revoked already is not revoked again: no second
			// event, no second alert.
			noErr(t, "RevokeRefreshFamily again", s.RevokeRefreshFamily(t.Context(), "req-1", effects("refresh_token_reuse", "a@example.com")))
			noErr(t, "RevokeRefreshFamily(unknown)", s.RevokeRefreshFamily(t.Context(), "no-such-family", effects("refresh_token_reuse", "a@example.com")))
			if n, m := len(audit(t, s, "")), len(outbox(t, s)); n != 1 || m != 1 {
				t.Errorf("after revoking again: %d events, %d mails, want 1 and 1", n, m)
			}
		}},
		{name: "refresh-revoke-user-tokens", run: func(t *testing.T, s Backend) {
			x := newSetup(t, s)
			bob := mustUser(t, s, "bob@example.com")
			ctx := t.Context()
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-2", "req-2", x.client.ID, x.user.ID, time.Time{})))
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-b", "req-b", x.client.ID, bob.ID, time.Time{})))
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-n", "req-n", x.client.ID, "", time.Time{})))
			// A family already revoked is not reported again.
			noErr(t, "create", s.CreateRefreshToken(ctx, newToken("rt-3", "req-3", x.client.ID, x.user.ID, time.Time{})))
			noErr(t, "RevokeRefreshFamily", s.RevokeRefreshFamily(ctx, "req-3", storage.Effects{}))

			ids, err := s.RevokeUserRefreshTokens(ctx, x.user.ID, effects("sessions_revoked", "a@example.com"))
			noErr(t, "RevokeUserRefreshTokens", err)
			if !reflect.DeepEqual(ids, []string{"req-1", "req-2"}) {
				t.Errorf("RevokeUserRefreshTokens = %v, want [req-1 req-2]", ids)
			}
			for sig, want := range map[string]storage.RefreshState{"rt-1": storage.RefreshRevoked, "rt-2": storage.RefreshRevoked, "rt-b": storage.RefreshActive, "rt-n": storage.RefreshActive} {
				wantState(t, s, sig, 0, want)
			}
			if a := audit(t, s, x.user.ID); len(a) != 1 || a[0].Kind != "sessions_revoked" {
				t.Errorf("audit = %+v", a)
			}
			if m := outbox(t, s); len(m) != 1 {
				t.Errorf("mail = %+v", m)
			}
			ids, err = s.RevokeUserRefreshTokens(ctx, x.user.ID, storage.Effects{})
			noErr(t, "RevokeUserRefreshTokens again", err)
			if len(ids) != 0 {
				t.Errorf("RevokeUserRefreshTokens again = %v, want none", ids)
			}
		}},
	}
}

func transactionCases() []testCase {
	return []testCase{
		{name: "transaction-rolled-back-leaves-nothing", transactional: true, run: func(t *testing.T, s Backend) {
			x := newSetup(t, s)
			ctx := begin(t, s, t.Context())
			noErr(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, "rt-1", 0))
			noErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newToken("rt-2", "req-1", x.client.ID, x.user.ID, time.Time{})))
			_, err := s.UpdateUser(ctx, x.user.ID, effects("password_changed", "a@example.com"), func(u *storage.User) error {
				u.PasswordHash = "changed"
				return nil
			})
			noErr(t, "UpdateUser in the transaction", err)
			// Inside, the transaction sees its own changes.
			_, err = s.GetRefreshToken(ctx, "rt-2", 0)
			noErr(t, "GetRefreshToken inside", err)
			noErr(t, "Rollback", s.Rollback(ctx))

			_, err = s.GetRefreshToken(t.Context(), "rt-2", 0)
			wantErr(t, "GetRefreshToken(created, rolled back)", err, storage.ErrNotFound)
			wantState(t, s, "rt-1", 0, storage.RefreshActive)
			u, err := s.GetUser(t.Context(), x.user.ID)
			noErr(t, "GetUser", err)
			if u.PasswordHash == "changed" {
				t.Error("rolled-back UpdateUser is visible")
			}
			if a := audit(t, s, ""); len(a) != 0 {
				t.Errorf("rolled-back audit events are visible: %+v", a)
			}
			if m := outbox(t, s); len(m) != 0 {
				t.Errorf("rolled-back mail is visible: %+v", m)
			}
		}},
		{name: "transaction-committed-keeps-everything", transactional: true, run: func(t *testing.T, s Backend) {
			x := newSetup(t, s)
			ctx := begin(t, s, t.Context())
			noErr(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, "rt-1", 0))
			noErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, newToken("rt-2", "req-1", x.client.ID, x.user.ID, time.Time{})))
			noErr(t, "EnqueueMail", s.EnqueueMail(ctx, storage.MailJob{To: "a@example.com", Template: "t"}))
			// Outside, nothing shows before the commit.
			_, err := s.GetRefreshToken(t.Context(), "rt-2", 0)
			wantErr(t, "GetRefreshToken outside, before commit", err, storage.ErrNotFound)
			noErr(t, "Commit", s.Commit(ctx))
			noErr(t, "Rollback after Commit", s.Rollback(ctx))
			wantState(t, s, "rt-2", 0, storage.RefreshActive)
			wantState(t, s, "rt-1", 0, storage.RefreshRotated)
			if m := outbox(t, s); len(m) != 1 {
				t.Errorf("mail = %+v", m)
			}
		}},
		{name: "transaction-get-locks-the-token-until-commit", transactional: true, run: func(t *testing.T, s Backend) {
			newSetup(t, s)
			ctxA := begin(t, s, t.Context())
			_, err := s.GetRefreshToken(ctxA, "rt-1", 0)
			noErr(t, "GetRefreshToken(A)", err)

			done := make(chan storage.RefreshToken, 1)
			go func() {
				ctxB, err := s.BeginTx(t.Context())
				if err != nil {
					t.Errorf("BeginTx(B): %v", err)
					done <- storage.RefreshToken{}
					return
				}
				defer s.Rollback(ctxB)
				rec, err := s.GetRefreshToken(ctxB, "rt-1", 0)
				if err != nil {
					t.Errorf("GetRefreshToken(B): %v", err)
				}
				done <- rec
			}()
			select {
			case rec := <-done:
				t.Fatalf("a second transaction read the token while the first held it (%+v)", rec)
			case <-time.After(300 * time.Millisecond):
			}
			noErr(t, "RotateRefreshToken(A)", s.RotateRefreshToken(ctxA, "rt-1", 0))
			noErr(t, "Commit(A)", s.Commit(ctxA))
			select {
			case rec := <-done:
				if rec.State != storage.RefreshRotated {
					t.Errorf("GetRefreshToken(B) after A rotated: state %v, want rotated", rec.State)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the second transaction is still blocked after the first committed")
			}
		}},
	}
}

// --- signing keys ---

func signingKey(id string, created time.Time) storage.SigningKey {
	return storage.SigningKey{
		ID: id, Algorithm: "ES256",
		PrivateKey: []byte("sealed-" + id),
		PublicKey:  []byte(`{"kty":"EC","kid":"` + id + `"}`),
		CreatedAt:  created,
	}
}

func signingKeyCases() []testCase {
	return []testCase{
		{name: "signing-key-create-list-newest-first-delete", run: func(t *testing.T, s Backend) {
			ctx := t.Context()
			base := time.Now().UTC().Truncate(time.Second)
			old := signingKey("k-old", base.Add(-2*time.Hour))
			old.ActiveAt = base.Add(-time.Hour)
			noErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, old))
			noErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, signingKey("k-new", time.Time{})))
			k := signingKey("k-mid", base.Add(-time.Hour))
			k.Algorithm = "RS256"
			noErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, k))
			wantErr(t, "CreateSigningKey(same id)", s.CreateSigningKey(ctx, signingKey("k-old", time.Time{})), storage.ErrAlreadyExists)
			if err := s.CreateSigningKey(ctx, storage.SigningKey{ID: "k-bad", Algorithm: "HS256", PrivateKey: []byte("x"), PublicKey: []byte("{}")}); err == nil {
				t.Error("CreateSigningKey accepted HS256")
			}

			keys, err := s.ListSigningKeys(ctx)
			noErr(t, "ListSigningKeys", err)
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.ID)
			}
			if !reflect.DeepEqual(ids, []string{"k-new", "k-mid", "k-old"}) {
				t.Fatalf("ListSigningKeys = %v, want newest first", ids)
			}
			recent(t, "CreatedAt", keys[0].CreatedAt)
			if !keys[0].ActiveAt.Equal(keys[0].CreatedAt) {
				t.Errorf("ActiveAt = %v, want CreatedAt %v", keys[0].ActiveAt, keys[0].CreatedAt)
			}
			if got := keys[2]; !got.CreatedAt.Equal(old.CreatedAt) || !got.ActiveAt.Equal(old.ActiveAt) ||
				string(got.PrivateKey) != string(old.PrivateKey) || string(got.PublicKey) != string(old.PublicKey) || got.Algorithm != "ES256" {
				t.Errorf("k-old = %+v, want %+v", got, old)
			}
			if keys[1].Algorithm != "RS256" {
				t.Errorf("k-mid algorithm = %q", keys[1].Algorithm)
			}
			noErr(t, "DeleteSigningKey", s.DeleteSigningKey(ctx, "k-mid"))
			wantErr(t, "DeleteSigningKey again", s.DeleteSigningKey(ctx, "k-mid"), storage.ErrNotFound)
			if keys, _ := s.ListSigningKeys(ctx); len(keys) != 2 {
				t.Errorf("%d keys after delete, want 2", len(keys))
			}
		}},
		{name: "signing-key-unless-newer-skips-when-a-newer-key-exists", run: func(t *testing.T, s Backend) {
			ctx := t.Context()
			since := time.Now().Add(-time.Hour)
			created, err := s.CreateSigningKeyUnlessNewer(ctx, signingKey("k1", time.Time{}), since)
			noErr(t, "CreateSigningKeyUnlessNewer(empty)", err)
			if !created {
				t.Fatal("no key created in an empty store")
			}
			created, err = s.CreateSigningKeyUnlessNewer(ctx, signingKey("k2", time.Time{}), since)
			noErr(t, "CreateSigningKeyUnlessNewer", err)
			if created {
				t.Error("a key was created although a newer one exists")
			}
			created, err = s.CreateSigningKeyUnlessNewer(ctx, signingKey("k3", time.Time{}), time.Now().Add(time.Second))
			noErr(t, "CreateSigningKeyUnlessNewer(since now)", err)
			if !created {
				t.Error("no key created although every key is older than since")
			}
		}},
		{name: "signing-key-unless-newer-parallel-creates-one", run: func(t *testing.T, s Backend) {
			ctx := t.Context()
			prev := signingKey("k-prev", time.Now().Add(-48*time.Hour))
			noErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, prev))
			since := prev.CreatedAt // every replica saw k-prev as the newest
			const n, rounds = 8, 5
			for round := range rounds {
				var created atomic.Int32
				parallel(n, func(i int) {
					ok, err := s.CreateSigningKeyUnlessNewer(ctx, signingKey(fmt.Sprintf("k-%d-%d", round, i), time.Time{}), since)
					if err != nil {
						t.Errorf("CreateSigningKeyUnlessNewer: %v", err)
					}
					if ok {
						created.Add(1)
					}
				})
				if created.Load() != 1 {
					t.Fatalf("round %d: %d of %d replicas created a key, want 1", round, created.Load(), n)
				}
				keys, err := s.ListSigningKeys(ctx)
				noErr(t, "ListSigningKeys", err)
				if len(keys) != round+2 {
					t.Fatalf("round %d: %d keys, want %d", round, len(keys), round+2)
				}
				since = keys[0].CreatedAt
			}
		}},
	}
}

// --- audit and mail ---

func auditAndMailCases() []testCase {
	return []testCase{
		{name: "ping", run: func(t *testing.T, s Backend) {
			noErr(t, "Ping", s.Ping(t.Context()))
		}},
		{name: "audit-append-list-newest-first-filtered-limited", run: func(t *testing.T, s Backend) {
			ctx := t.Context()
			at := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
			first := storage.AuditEvent{At: at, Kind: "login_failed", UserID: "u1", ClientID: "app", IP: "192.0.2.1", UserAgent: "test/1", Detail: map[string]string{"reason": "password"}}
			noErr(t, "AppendAudit", s.AppendAudit(ctx, first))
			noErr(t, "AppendAudit", s.AppendAudit(ctx, storage.AuditEvent{Kind: "login", UserID: "u2"}))
			noErr(t, "AppendAudit", s.AppendAudit(ctx, storage.AuditEvent{Kind: "password_changed", UserID: "u1"}))
			if err := s.AppendAudit(ctx, storage.AuditEvent{UserID: "u1"}); err == nil {
				t.Error("AppendAudit accepted an event without a kind")
			}

			all := audit(t, s, "")
			var kinds []string
			for _, e := range all {
				kinds = append(kinds, e.Kind)
			}
			if !reflect.DeepEqual(kinds, []string{"password_changed", "login", "login_failed"}) {
				t.Fatalf("ListAudit = %v, want newest first", kinds)
			}
			if all[0].ID == 0 || all[0].ID == all[1].ID || all[0].ID < all[1].ID {
				t.Errorf("IDs = %d, %d, want distinct and increasing", all[0].ID, all[1].ID)
			}
			recent(t, "At", all[0].At)
			got := all[2]
			got.ID = 0
			if !reflect.DeepEqual(got, first) {
				t.Errorf("stored event\n %+v\nwant\n %+v", got, first)
			}
			if all[1].Detail != nil || all[1].ClientID != "" || all[1].IP != "" {
				t.Errorf("empty fields came back as %+v", all[1])
			}
			u1, err := s.ListAudit(ctx, "u1", 1)
			noErr(t, "ListAudit(u1, 1)", err)
			if len(u1) != 1 || u1[0].Kind != "password_changed" {
				t.Errorf("ListAudit(u1, 1) = %+v", u1)
			}
			if none := audit(t, s, "nobody"); len(none) != 0 {
				t.Errorf("ListAudit(nobody) = %+v", none)
			}
		}},
		{name: "mail-enqueue", run: func(t *testing.T, s Backend) {
			m1 := storage.MailJob{To: "a@example.com", Template: "verify_email", Data: map[string]string{"link": "https://x/verify"}}
			m2 := storage.MailJob{To: "b@example.com", Template: "password_reset"}
			noErr(t, "EnqueueMail", s.EnqueueMail(t.Context(), m1))
			noErr(t, "EnqueueMail", s.EnqueueMail(t.Context(), m2))
			got := outbox(t, s)
			if len(got) != 2 || !reflect.DeepEqual(got[0], m1) || got[1].To != m2.To || got[1].Template != m2.Template || len(got[1].Data) != 0 {
				t.Errorf("outbox = %+v, want %+v, %+v", got, m1, m2)
			}
		}},
	}
}
