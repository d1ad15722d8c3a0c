package passkey_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/passkey/passkeytest"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/memory"
)

const issuer = "https://id.example.com"

type env struct {
	svc   *passkey.Service
	store *memory.Store
	user  storage.User
	auth  *passkeytest.Authenticator
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store := memory.New(memory.Options{})
	svc, err := passkey.New(passkey.Config{Issuer: issuer, Store: store, Redis: testenv.Redis(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	u, err := store.CreateUser(t.Context(), storage.User{Email: "ada@example.com", PasswordHash: "x", EmailVerified: true}, storage.Effects{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, store: store, user: u, auth: &passkeytest.Authenticator{Origin: issuer}}
}

// register adds a passkey made by e.auth to the store, through a whole
// registration ceremony bound to session "s1".
func (e *env) register(t *testing.T) storage.Passkey {
	t.Helper()
	have, _ := e.store.ListPasskeys(t.Context(), e.user.ID)
	opts, err := e.svc.BeginRegistration(t.Context(), e.user, have, "s1")
	if err != nil {
		t.Fatal(err)
	}
	answer, err := e.auth.Create(opts.Options)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.FinishRegistration(t.Context(), e.user, "s1", opts.Ceremony, answer, "Laptop")
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	if err := e.store.CreatePasskey(t.Context(), p, storage.Effects{}); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) passkeys(t *testing.T) []storage.Passkey {
	t.Helper()
	ps, err := e.store.ListPasskeys(t.Context(), e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestRegistrationMakesADiscoverablePasskeyOfTheUser(t *testing.T) {
	e := newEnv(t)
	opts, err := e.svc.BeginRegistration(t.Context(), e.user, nil, "s1")
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		PublicKey struct {
			RP                     struct{ ID string }
			AuthenticatorSelection struct {
				ResidentKey string `json:"residentKey"`
			} `json:"authenticatorSelection"`
			Attestation string `json:"attestation"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts.Options, &o); err != nil {
		t.Fatal(err)
	}
	if o.PublicKey.RP.ID != "id.example.com" || o.PublicKey.AuthenticatorSelection.ResidentKey != "required" || o.PublicKey.Attestation != "none" {
		t.Fatalf("options = %s, want RP ID from the issuer, a discoverable key, no attestation", opts.Options)
	}
	answer, _ := e.auth.Create(opts.Options)
	p, err := e.svc.FinishRegistration(t.Context(), e.user, "s1", opts.Ceremony, answer, "Laptop")
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != e.user.ID || p.Name != "Laptop" || len(p.PublicKey) == 0 || string(p.ID) != string(e.auth.Credentials()[0].ID) {
		t.Fatalf("passkey = %+v", p)
	}
	if _, err := e.svc.FinishRegistration(t.Context(), e.user, "s1", opts.Ceremony, answer, "Again"); !errors.Is(err, passkey.ErrExpired) {
		t.Fatalf("a replayed registration: %v, want ErrExpired", err)
	}
}

func TestRegistrationIsBoundToItsSessionAndRelyingParty(t *testing.T) {
	e := newEnv(t)
	opts, _ := e.svc.BeginRegistration(t.Context(), e.user, nil, "s1")
	answer, _ := e.auth.Create(opts.Options)
	if _, err := e.svc.FinishRegistration(t.Context(), e.user, "another session", opts.Ceremony, answer, "x"); !errors.Is(err, passkey.ErrExpired) {
		t.Fatalf("from another session: %v, want ErrExpired", err)
	}
	for name, auth := range map[string]*passkeytest.Authenticator{
		"another RP ID":  {Origin: issuer, RPID: "evil.example"},
		"another origin": {Origin: "https://evil.example"},
	} {
		opts, _ := e.svc.BeginRegistration(t.Context(), e.user, nil, "s1")
		answer, _ := auth.Create(opts.Options)
		if _, err := e.svc.FinishRegistration(t.Context(), e.user, "s1", opts.Ceremony, answer, "x"); !errors.Is(err, passkey.ErrRefused) {
			t.Errorf("%s: %v, want ErrRefused", name, err)
		}
	}
}

func TestSecondFactorAcceptsTheUsersPasskeyOnce(t *testing.T) {
	e := newEnv(t)
	e.register(t)
	opts, err := e.svc.BeginVerify(t.Context(), e.user, e.passkeys(t), "pending-1")
	if err != nil {
		t.Fatal(err)
	}
	answer, err := e.auth.Get(opts.Options, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.svc.FinishVerify(t.Context(), e.user, e.passkeys(t), "pending-1", opts.Ceremony, answer)
	if err != nil {
		t.Fatalf("FinishVerify: %v", err)
	}
	if a.UserID != e.user.ID || !a.UserVerified || strings.Join(a.AMR(), " ") != "hwk user" {
		t.Fatalf("assertion = %+v, amr %v", a, a.AMR())
	}
	if used := e.passkeys(t)[0]; used.LastUsedAt.IsZero() {
		t.Error("LastUsedAt not stamped")
	}
	if _, err := e.svc.FinishVerify(t.Context(), e.user, e.passkeys(t), "pending-1", opts.Ceremony, answer); !errors.Is(err, passkey.ErrExpired) {
		t.Fatalf("a replayed assertion: %v, want ErrExpired", err)
	}
}

func TestSecondFactorRefusesTamperedAndForeignAssertions(t *testing.T) {
	e := newEnv(t)
	e.register(t)
	tamper := func(answer []byte) []byte {
		var m map[string]any
		_ = json.Unmarshal(answer, &m)
		resp := m["response"].(map[string]any)
		sig := []byte(resp["signature"].(string))
		sig[10] ^= 1
		resp["signature"] = string(sig)
		out, _ := json.Marshal(m)
		return out
	}
	cases := map[string]func(opts passkey.Options) []byte{
		"tampered signature": func(o passkey.Options) []byte { a, _ := e.auth.Get(o.Options, nil); return tamper(a) },
		"another RP ID": func(o passkey.Options) []byte {
			c := *e.auth.Credentials()[0]
			c.RPID = "evil.example"
			a, _ := e.auth.Get(o.Options, &c)
			return a
		},
		"another origin": func(o passkey.Options) []byte {
			evil := &passkeytest.Authenticator{Origin: "https://evil.example"}
			a, _ := evil.Get(o.Options, e.auth.Credentials()[0])
			return a
		},
		"not JSON": func(passkey.Options) []byte { return []byte("{") },
	}
	for name, answer := range cases {
		opts, _ := e.svc.BeginVerify(t.Context(), e.user, e.passkeys(t), "p")
		if _, err := e.svc.FinishVerify(t.Context(), e.user, e.passkeys(t), "p", opts.Ceremony, answer(opts)); !errors.Is(err, passkey.ErrRefused) {
			t.Errorf("%s: %v, want ErrRefused", name, err)
		}
	}
	opts, _ := e.svc.BeginVerify(t.Context(), e.user, e.passkeys(t), "p")
	answer, _ := e.auth.Get(opts.Options, nil)
	if _, err := e.svc.FinishVerify(t.Context(), e.user, e.passkeys(t), "another pending sign-in", opts.Ceremony, answer); !errors.Is(err, passkey.ErrExpired) {
		t.Errorf("for another pending sign-in: %v, want ErrExpired", err)
	}
}

func TestPasswordlessSignInFindsTheUserByTheirPasskey(t *testing.T) {
	e := newEnv(t)
	e.auth.BackupEligible = true
	e.register(t)
	opts, err := e.svc.BeginSignIn(t.Context(), "browser")
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := e.auth.Get(opts.Options, nil)
	a, err := e.svc.FinishSignIn(t.Context(), "browser", opts.Ceremony, answer)
	if err != nil {
		t.Fatalf("FinishSignIn: %v", err)
	}
	if a.UserID != e.user.ID || strings.Join(a.AMR(), " ") != "swk user" {
		t.Fatalf("assertion = %+v, amr %v", a, a.AMR())
	}
	// Without user verification a passkey is one factor: refused.
	e.auth.NoUserVerification = true
	opts, _ = e.svc.BeginSignIn(t.Context(), "browser")
	answer, _ = e.auth.Get(opts.Options, nil)
	if _, err := e.svc.FinishSignIn(t.Context(), "browser", opts.Ceremony, answer); !errors.Is(err, passkey.ErrRefused) {
		t.Fatalf("without user verification: %v, want ErrRefused", err)
	}
}

func TestPasswordlessSignInRefusesARemovedPasskey(t *testing.T) {
	e := newEnv(t)
	p := e.register(t)
	if err := e.store.DeletePasskey(t.Context(), e.user.ID, p.ID, storage.Effects{}); err != nil {
		t.Fatal(err)
	}
	opts, _ := e.svc.BeginSignIn(t.Context(), "browser")
	answer, _ := e.auth.Get(opts.Options, e.auth.Credentials()[0])
	if _, err := e.svc.FinishSignIn(t.Context(), "browser", opts.Ceremony, answer); !errors.Is(err, passkey.ErrRefused) {
		t.Fatalf("a removed passkey: %v, want ErrRefused", err)
	}
}

func TestACounterGoingBackIsAudited(t *testing.T) {
	e := newEnv(t)
	e.auth.Counter = 10
	e.register(t)
	signIn := func() {
		t.Helper()
		opts, _ := e.svc.BeginSignIn(t.Context(), "b")
		answer, _ := e.auth.Get(opts.Options, nil)
		if _, err := e.svc.FinishSignIn(t.Context(), "b", opts.Ceremony, answer); err != nil {
			t.Fatal(err)
		}
	}
	signIn() // counter 11
	e.auth.Counter = 4
	signIn() // counter 5: behind
	if got := e.passkeys(t)[0].SignCount; got != 11 {
		t.Errorf("stored counter %d, want 11 (it never goes back)", got)
	}
	events, _ := e.store.ListAudit(t.Context(), e.user.ID, 0)
	if len(events) != 1 || events[0].Kind != "passkey_counter_regressed" {
		t.Fatalf("audit = %+v, want one passkey_counter_regressed", events)
	}
}

func TestConfigDerivesTheRelyingPartyFromTheIssuer(t *testing.T) {
	store := memory.New(memory.Options{})
	rdb := testenv.Redis(t)
	for _, c := range []struct {
		cfg  passkey.Config
		rpID string
		bad  string
	}{
		{cfg: passkey.Config{Issuer: "https://login.example.com/auth"}, rpID: "login.example.com"},
		{cfg: passkey.Config{Issuer: "https://login.example.com", RPID: "example.com"}, rpID: "example.com"},
		{cfg: passkey.Config{Issuer: "http://localhost:8080"}, rpID: "localhost"},
		{cfg: passkey.Config{Issuer: "https://login.example.com", RPID: "other.example"}, bad: "parent domain"},
		{cfg: passkey.Config{Issuer: "https://login.example.com", Origins: []string{"http://login.example.com"}}, bad: "https origin"},
		{cfg: passkey.Config{Issuer: "https://login.example.com", Origins: []string{"https://evil.example"}}, bad: "within the RP ID"},
	} {
		c.cfg.Store, c.cfg.Redis = store, rdb
		svc, err := passkey.New(c.cfg)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("%+v: error %v, want one saying %q", c.cfg, err, c.bad)
			}
			continue
		}
		if err != nil || svc.RPID() != c.rpID {
			t.Errorf("%+v: RP ID %q, %v; want %q", c.cfg, svc.RPID(), err, c.rpID)
		}
	}
}
