package keys

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/latch-idp/latch/storage"
)

func TestRotation(t *testing.T) {
	for _, alg := range bothAlgs {
		t.Run("case=a rotated "+alg+" key is published before it signs, and old tokens stay valid until the key leaves", func(t *testing.T) {
			e := newEnv(t)
			opts := Options{Algorithms: []string{alg}, PublishAhead: time.Minute, Retain: time.Hour}
			m := e.started(t, opts)
			jwksURL := serveJWKS(t, m)
			// fosite checks the time claims against its own clock.
			fositeNow := fjwt.TimeFunc
			fjwt.TimeFunc = e.clock.Now
			t.Cleanup(func() { fjwt.TimeFunc = fositeNow })
			rp := oidcVerifier(t, e, jwksURL, alg)

			before, oldKid := sign(t, e, m, alg, nil)
			if _, err := rp.Verify(t.Context(), before); err != nil {
				t.Fatal(err)
			}

			created, err := m.Rotate(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(created) != 1 || created[0].Algorithm != alg {
				t.Fatalf("Rotate created %+v", created)
			}
			newKid := created[0].ID
			if !created[0].ActiveAt.Equal(created[0].CreatedAt.Add(time.Minute)) {
				t.Errorf("new key active at %v, want created+PublishAhead", created[0].ActiveAt)
			}

			// Published ahead: in the JWKS, not signing.
			if got := jwksKids(t, m); !slices.Contains(got, newKid) || !slices.Contains(got, oldKid) {
				t.Fatalf("JWKS %v: want both %s and %s", got, oldKid, newKid)
			}
			if _, kid := sign(t, e, m, alg, nil); kid != oldKid {
				t.Fatalf("signed with %s before the new key's ActiveAt", kid)
			}
			if st := stateOf(m, newKid); st != StateNext {
				t.Errorf("new key state %q", st)
			}

			// Its time comes: it signs, without a reload.
			e.clock.Add(time.Minute)
			after, kid := sign(t, e, m, alg, nil)
			if kid != newKid {
				t.Fatalf("signed with %s after ActiveAt, want %s", kid, newKid)
			}
			if st := stateOf(m, oldKid); st != StateRetired {
				t.Errorf("old key state %q", st)
			}
			for name, tok := range map[string]string{"before": before, "after": after} {
				if _, _, err := m.Verify(t.Context(), tok); err != nil {
					t.Errorf("Verify token signed %s rotation: %v", name, err)
				}
				if _, err := m.Signer(alg).Validate(t.Context(), tok); err != nil {
					t.Errorf("fosite Validate token signed %s rotation: %v", name, err)
				}
				if err := oidcVerifyFresh(t, rp, tok); err != nil {
					t.Errorf("go-oidc on token signed %s rotation: %v", name, err)
				}
			}

			// Retain after retirement the old key leaves the JWKS, its tokens
			// stop verifying and the next tick deletes it.
			e.clock.Add(time.Hour - time.Second)
			if !slices.Contains(jwksKids(t, m), oldKid) {
				t.Fatal("old key left the JWKS before Retain elapsed")
			}
			v := m.Version()
			e.clock.Add(time.Second)
			if got := jwksKids(t, m); slices.Contains(got, oldKid) || !slices.Contains(got, newKid) {
				t.Fatalf("JWKS %v after Retain: want only %s", got, newKid)
			}
			if m.Version() != v+1 {
				t.Errorf("version %d, want %d once the old key left", m.Version(), v+1)
			}
			if _, _, err := m.Verify(t.Context(), before, AllowExpired()); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("token of the removed key: %v, want ErrUnknownKey", err)
			}
			if _, err := m.Signer(alg).Validate(t.Context(), before); err == nil {
				t.Error("fosite Validate accepted a token of the removed key")
			}
			if st := stateOf(m, oldKid); st != StateExpired {
				t.Errorf("old key state %q", st)
			}
			if err := m.Tick(t.Context()); err != nil {
				t.Fatal(err)
			}
			if e.store.has(t, oldKid) || !e.store.has(t, newKid) {
				t.Errorf("stored keys after the tick: %v, want only %s", e.store.list(t), newKid)
			}
			if got := kids(m); !slices.Equal(got, []string{newKid}) {
				t.Errorf("keys after deletion %v", got)
			}
		})
	}

	t.Run("case=the JWKS lists a retired key until Retain even across reloads", func(t *testing.T) {
		e := newEnv(t)
		m := e.started(t, Options{PublishAhead: time.Minute, Retain: 10 * time.Minute})
		old := kids(m)[0]
		if _, err := m.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		for range 10 {
			e.clock.Add(time.Minute)
			if err := m.Tick(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Contains(jwksKids(t, m), old) || !e.store.has(t, old) {
			t.Fatal("retired key removed early")
		}
		e.clock.Add(time.Minute)
		if err := m.Tick(t.Context()); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(jwksKids(t, m), old) || e.store.has(t, old) {
			t.Fatalf("retired key still there after Retain: JWKS %v", jwksKids(t, m))
		}
	})
}

func stateOf(m *Manager, kid string) string {
	for _, k := range m.List() {
		if k.ID == kid {
			return k.State
		}
	}
	return ""
}

func TestReplicas(t *testing.T) {
	t.Run("case=a replica sees another's rotation after Reload and verifies its tokens", func(t *testing.T) {
		e := newEnv(t)
		a := e.started(t, Options{Algorithms: bothAlgs})
		b := e.started(t, Options{Algorithms: bothAlgs})
		created, err := a.Rotate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range created {
			if slices.Contains(jwksKids(t, b), k.ID) {
				t.Fatal("b knows the new key before reloading")
			}
		}
		if err := b.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, k := range created {
			if !slices.Contains(jwksKids(t, b), k.ID) {
				t.Errorf("b does not publish %s after Reload", k.ID)
			}
		}
		e.clock.Add(time.Minute)
		for _, alg := range bothAlgs {
			tok, kid := sign(t, e, a, alg, nil)
			if !slices.ContainsFunc(created, func(k storage.SigningKey) bool { return k.ID == kid }) {
				t.Errorf("a signed %s with %s, not the rotated key", alg, kid)
			}
			if _, _, err := b.Verify(t.Context(), tok); err != nil {
				t.Errorf("b rejects a's %s token: %v", alg, err)
			}
			if _, kidB := sign(t, e, b, alg, nil); kidB != kid {
				t.Errorf("b signs %s with %s, a with %s", alg, kidB, kid)
			}
		}
	})

	t.Run("case=scheduled rotation: replicas ticking together create one key per algorithm", func(t *testing.T) {
		e := newEnv(t)
		opts := Options{Algorithms: bothAlgs, Rotation: 24 * time.Hour, PublishAhead: time.Minute, Retain: time.Hour}
		ms := []*Manager{e.started(t, opts), e.started(t, opts), e.started(t, opts), e.started(t, opts)}
		tickAll := func() {
			t.Helper()
			var wg sync.WaitGroup
			errs := make([]error, len(ms))
			for i, m := range ms {
				wg.Go(func() { errs[i] = m.Tick(t.Context()) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Add(23 * time.Hour)
		tickAll()
		if n := len(e.store.list(t)); n != 2 {
			t.Fatalf("%d keys before the rotation is due, want 2", n)
		}
		e.clock.Add(time.Hour)
		tickAll()
		recs := e.store.list(t)
		count := map[string]int{}
		for _, r := range recs {
			count[r.Algorithm]++
			if r.CreatedAt.Equal(e.clock.Now().Truncate(time.Microsecond)) && !r.ActiveAt.Equal(r.CreatedAt.Add(time.Minute)) {
				t.Errorf("rotated key %s active at %v, want created+PublishAhead", r.ID, r.ActiveAt)
			}
		}
		if count[RS256] != 2 || count[ES256] != 2 {
			t.Fatalf("keys per algorithm %v, want 2 each (old and new)", count)
		}
		// Every replica publishes the new keys; none signs with them yet.
		for i, m := range ms {
			if len(jwksOf(t, m).Keys) != 4 {
				t.Errorf("replica %d publishes %d keys", i, len(jwksOf(t, m).Keys))
			}
		}
		// Once active, Retain later, the old keys go and no new rotation runs.
		e.clock.Add(time.Minute + time.Hour)
		tickAll()
		if n := len(e.store.list(t)); n != 2 {
			t.Errorf("%d keys after retention, want 2", n)
		}
	})

	t.Run("case=Run picks up a rotation made elsewhere", func(t *testing.T) {
		e := newEnv(t)
		opts := Options{Refresh: 20 * time.Millisecond, PublishAhead: time.Minute}
		a := e.started(t, opts)
		b := e.started(t, opts)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { b.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		created, err := a.Rotate(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !slices.Contains(jwksKids(t, b), created[0].ID) {
			if time.Now().After(deadline) {
				t.Fatal("b never loaded the rotated key")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestNoKeyMaterialInLogs(t *testing.T) {
	e := newEnv(t)
	m := e.started(t, Options{Algorithms: bothAlgs, Rotation: time.Hour, PublishAhead: time.Minute, Retain: time.Minute})
	if _, err := m.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(3 * time.Hour)
	if err := m.Tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "signing key created") || !strings.Contains(logs, "signing key deleted") {
		t.Fatalf("expected key lifecycle logs, got:\n%s", logs)
	}
	for _, k := range e.store.list(t) {
		for _, leak := range [][]byte{k.PrivateKey[:12], k.PrivateKey[len(k.PrivateKey)-12:]} {
			if strings.Contains(logs, string(leak)) {
				t.Errorf("logs contain sealed key bytes of %s", k.ID)
			}
		}
	}
	for _, bad := range []string{"PRIVATE KEY", `"d":`, "PrivateKey"} {
		if strings.Contains(logs, bad) {
			t.Errorf("logs contain %q", bad)
		}
	}
}

// oidcVerifyFresh verifies with go-oidc, allowing for its refetch window:
// go-oidc hands a refetch for an unknown kid the result of a fetch still
// finishing (here: the one made before the rotation), so a resource server
// sees the new key at its next attempt. It tries a few times, briefly.
func oidcVerifyFresh(t *testing.T, rp *oidc.IDTokenVerifier, tok string) error {
	t.Helper()
	var err error
	for range 5 {
		if _, err = rp.Verify(t.Context(), tok); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}
