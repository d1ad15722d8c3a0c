package account_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/latch-idp/latch/account"
	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/ratelimit"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/memory"
	"github.com/latch-idp/latch/web"
	"github.com/latch-idp/latch/web/webtest"
)

// watchedStore is the env's memory store, counting the calls the account
// page makes; with failAfter > 0 every write after that many fails, as a
// database that goes away half-way through a request would.
type watchedStore struct {
	*memory.Store
	failAfter int

	mu                   sync.Mutex
	writes               int
	getClient, listClnts int
}

var errGone = errors.New("watchedStore: the database went away")

func (s *watchedStore) write() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.failAfter > 0 && s.writes > s.failAfter {
		return errGone
	}
	return nil
}

func (s *watchedStore) UpdateUser(ctx context.Context, id string, fx storage.Effects, mutate func(*storage.User) error) (storage.User, error) {
	if err := s.write(); err != nil {
		return storage.User{}, err
	}
	return s.Store.UpdateUser(ctx, id, fx, mutate)
}

func (s *watchedStore) ReplaceBackupCodes(ctx context.Context, userID string, hashes [][]byte, fx storage.Effects) error {
	if err := s.write(); err != nil {
		return err
	}
	return s.Store.ReplaceBackupCodes(ctx, userID, hashes, fx)
}

func (s *watchedStore) SetTOTP(ctx context.Context, userID string, secret []byte, hashes [][]byte, fx storage.Effects) (storage.User, error) {
	if err := s.write(); err != nil {
		return storage.User{}, err
	}
	return s.Store.SetTOTP(ctx, userID, secret, hashes, fx)
}

func (s *watchedStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	s.mu.Lock()
	s.getClient++
	s.mu.Unlock()
	return s.Store.GetClient(ctx, id)
}

func (s *watchedStore) ListClients(ctx context.Context) ([]storage.Client, error) {
	s.mu.Lock()
	s.listClnts++
	s.mu.Unlock()
	return s.Store.ListClients(ctx)
}

// watched serves the account pages of e over st, for requests made with
// serve: e's own server keeps its own handler.
func watched(t *testing.T, e *webtest.Env, st interface {
	account.Store
	accounts.Store
}) http.Handler {
	t.Helper()
	svc, err := accounts.New(accounts.Config{Store: st, Hasher: e.Hasher, Checker: e.Checker, Revoker: e.Revoker})
	if err != nil {
		t.Fatal(err)
	}
	h, err := account.New(account.Config{
		Site: e.Site, Store: st, Sessions: e.Sessions, Accounts: svc,
		TOTP: e.TOTP, Passkeys: e.Passkeys, Box: e.Box, Limit: ratelimit.New(e.Redis, "account-watched", 5, 15*time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	h.Mount(r)
	return r
}

// serve sends a request to h with c's cookies (and CSRF token, for a form).
func serve(t *testing.T, e *webtest.Env, h http.Handler, c *webtest.Client, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, e.URL+path, nil)
	if form != nil {
		f := url.Values{web.CSRFField: {c.CSRF(t)}}
		for k, v := range form {
			f[k] = v
		}
		req = httptest.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	u, _ := url.Parse(e.URL)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TOTP and its backup codes change together or not at all: a failure
// between two writes must never leave backup codes without the factor they
// stand in for, or a factor without its codes.
func TestTOTPOnAndOffIsOneWrite(t *testing.T) {
	consistent := func(t *testing.T, e *webtest.Env, userID string) {
		t.Helper()
		u := e.User(t, userID)
		n, err := e.Store.CountBackupCodes(t.Context(), userID)
		if err != nil {
			t.Fatal(err)
		}
		if u.TOTPEnabled() != (n == accounts.BackupCodeCount) || (!u.TOTPEnabled() && n != 0) {
			t.Fatalf("half done: TOTP on %t with %d backup codes", u.TOTPEnabled(), n)
		}
	}

	t.Run("case=turning it on", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		h := watched(t, e, &watchedStore{Store: e.Store, failAfter: 1})
		page := serve(t, e, h, c, "/account/totp", nil)
		secret := webtest.Attr(page.Body.String(), "data-totp-secret")
		pending := webtest.Attr(page.Body.String(), `name="pending" value`)
		if len(secret) != 1 || len(pending) != 1 {
			t.Fatalf("set-up page %d:\n%s", page.Code, page.Body)
		}
		serve(t, e, h, c, "/account/totp", url.Values{"pending": pending, "code": {webtest.Code(t, secret[0], 0)}})
		consistent(t, e, u.ID)
	})

	t.Run("case=turning it off", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		secret, _ := enroll(t, e, c)
		h := watched(t, e, &watchedStore{Store: e.Store, failAfter: 1})
		serve(t, e, h, c, "/account/totp/disable", url.Values{"code": {webtest.Code(t, secret, 30*time.Second)}})
		consistent(t, e, u.ID)
	})
}

func TestAppNamesAreLookedUpOnce(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	c, u := signedIn(t, e)
	names := map[string]string{"3p-printer": "Photo Printer", "3p-notes": "Note Keeper", "3p-maps": "Map Maker"}
	for id, name := range names {
		e.StartFlow(t, id, []string{"openid"}, func(f *flow.Flow) { f.ClientName = name })
		if err := e.Store.SaveConsent(t.Context(), storage.Consent{UserID: u.ID, ClientID: id, Scopes: []string{"openid"}}); err != nil {
			t.Fatal(err)
		}
	}
	st := &watchedStore{Store: e.Store}
	page := serve(t, e, watched(t, e, st), c, "/account", nil)
	if page.Code != http.StatusOK {
		t.Fatalf("status %d:\n%s", page.Code, page.Body)
	}
	for _, name := range names {
		if !strings.Contains(page.Body.String(), name) {
			t.Errorf("%s not listed", name)
		}
	}
	if n := st.getClient + st.listClnts; n > 1 {
		t.Errorf("%d client lookups for %d apps, want one", n, len(names))
	}
}
