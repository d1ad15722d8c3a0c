package password

import (
	"context"
	"errors"
	"regexp"
	"runtime"
	"testing"
	"time"
)

// fast keeps the tests quick; the shape of the code is the same as with
// DefaultParams.
var fast = Params{Memory: 64, Iterations: 1, Parallelism: 1}

func TestDefaultParamsAreAtLeastOWASP(t *testing.T) {
	p := DefaultParams()
	if p.Memory < 19456 || p.Iterations < 2 || p.Parallelism < 1 {
		t.Fatalf("DefaultParams() = %+v, below OWASP's m=19456 t=2 p=1", p)
	}
}

func TestHashIsPHC(t *testing.T) {
	h := NewHasher(Params{Memory: 128, Iterations: 3, Parallelism: 2}, 2, time.Second)
	phc, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=128,t=3,p=2\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)
	if !re.MatchString(phc) {
		t.Fatalf("Hash = %q, not a PHC string with a 16-byte salt and 32-byte key", phc)
	}
	other, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if other == phc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestVerify(t *testing.T) {
	h := NewHasher(fast, 2, time.Second)
	phc, err := h.Hash(t.Context(), "pässwörd-one")
	if err != nil {
		t.Fatal(err)
	}
	weak := NewHasher(Params{Memory: 32, Iterations: 1, Parallelism: 1}, 1, time.Second)
	weakPHC, err := weak.Hash(t.Context(), "pässwörd-one")
	if err != nil {
		t.Fatal(err)
	}
	strong := NewHasher(Params{Memory: 64, Iterations: 2, Parallelism: 1}, 1, time.Second)
	strongPHC, err := strong.Hash(t.Context(), "pässwörd-one")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name       string
		phc, pw    string
		ok, rehash bool
		err        error
	}{
		{name: "round trip", phc: phc, pw: "pässwörd-one", ok: true},
		{name: "wrong password", phc: phc, pw: "pässwörd-two"},
		{name: "wrong password, prefix", phc: phc, pw: "pässwörd-on"},
		{name: "empty password", phc: phc, pw: ""},
		{name: "weaker memory asks for rehash", phc: weakPHC, pw: "pässwörd-one", ok: true, rehash: true},
		{name: "weaker memory, wrong password, no rehash", phc: weakPHC, pw: "nope"},
		{name: "stronger stored hash is kept", phc: strongPHC, pw: "pässwörd-one", ok: true},
		{name: "dummy for unknown account", phc: "", pw: "pässwörd-one"},
		{name: "malformed", phc: "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5a2V5", pw: "x", err: ErrMalformed},
		{name: "malformed version", phc: "$argon2id$v=16$m=64,t=1,p=1$c2FsdA$a2V5a2V5", pw: "x", err: ErrMalformed},
		{name: "malformed params", phc: "$argon2id$v=19$m=64,t=0,p=1$c2FsdA$a2V5a2V5", pw: "x", err: ErrMalformed},
		{name: "malformed base64", phc: "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5", pw: "x", err: ErrMalformed},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(t.Context(), tc.phc, tc.pw)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if ok != tc.ok || rehash != tc.rehash {
				t.Fatalf("Verify = ok %v rehash %v, want ok %v rehash %v", ok, rehash, tc.ok, tc.rehash)
			}
		})
	}
	t.Run("case=fewer passes than the hasher's asks for rehash", func(t *testing.T) {
		ok, rehash, err := strong.Verify(t.Context(), phc, "pässwörd-one")
		if err != nil || !ok || !rehash {
			t.Fatalf("Verify = %v %v %v, want ok and rehash", ok, rehash, err)
		}
	})
}

func TestDummyVerifyCostsWhatARealOneCosts(t *testing.T) {
	// An unknown account is checked against a dummy hash made with the
	// hasher's own parameters, through the same bounded slots (see
	// TestHasherBusy), so it costs what a wrong password costs.
	p := Params{Memory: 16 * 1024, Iterations: 3, Parallelism: 2}
	h := NewHasher(p, 1, time.Second)
	got, salt, key, err := decode(h.dummy)
	if err != nil {
		t.Fatalf("decode dummy hash: %v", err)
	}
	if got != p || len(salt) != saltLen || len(key) != keyLen {
		t.Fatalf("dummy hash has %+v, %d-byte salt, %d-byte key; want %+v, %d, %d", got, len(salt), len(key), p, saltLen, keyLen)
	}
	ok, rehash, err := h.Verify(t.Context(), "", "wrong password")
	if ok || rehash || err != nil {
		t.Fatalf("dummy Verify = %v %v %v, want false false nil", ok, rehash, err)
	}
}

func TestHasherBusy(t *testing.T) {
	h := NewHasher(fast, 1, 50*time.Millisecond)
	// Hold the only slot as a slow computation would.
	if err := h.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := h.Hash(t.Context(), "password one two")
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash while busy = %v, want ErrBusy", err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Fatalf("gave up after %v, before the 50ms wait", waited)
	}
	if _, _, err := h.Verify(t.Context(), "", "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Verify while busy = %v, want ErrBusy", err)
	}

	t.Run("case=a slot freed within the wait is taken", func(t *testing.T) {
		h := NewHasher(fast, 1, 2*time.Second)
		if err := h.acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(20*time.Millisecond, func() { <-h.slots })
		if _, err := h.Hash(t.Context(), "password one two"); err != nil {
			t.Fatalf("Hash = %v, want success once the slot frees", err)
		}
	})
	t.Run("case=a cancelled caller stops waiting", func(t *testing.T) {
		h := NewHasher(fast, 1, time.Minute)
		if err := h.acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if _, err := h.Hash(ctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Hash = %v, want context.DeadlineExceeded", err)
		}
	})
}

// The memory of a burst of hashes goes back to the OS once, when the
// burst is over, and not while hashes keep coming.
func TestHasherReleasesMemoryOnceIdle(t *testing.T) {
	h := NewHasher(fast, 4, time.Second)
	released := make(chan struct{}, 10)
	h.release = func() { released <- struct{}{} }
	for i := 0; i < 3; i++ {
		if _, err := h.Hash(t.Context(), "correct horse"); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-released:
		t.Fatal("memory released right after the hashes, before the hasher was idle")
	case <-time.After(ReleaseAfter / 2):
	}
	select {
	case <-released:
	case <-time.After(2 * ReleaseAfter):
		t.Fatalf("memory not released %v after the last hash", 2*ReleaseAfter)
	}
	select {
	case <-released:
		t.Fatal("memory released twice for one burst")
	case <-time.After(ReleaseAfter + time.Second):
	}
}

// TestDefaultConcurrencyLeavesACore pins that, unless configured, hashes
// leave one core to every other request: one less than GOMAXPROCS, at
// least one.
func TestDefaultConcurrencyLeavesACore(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for procs, want := range map[int]int{1: 1, 2: 1, 4: 3, 16: 15} {
		runtime.GOMAXPROCS(procs)
		if got := DefaultConcurrency(); got != want {
			t.Errorf("GOMAXPROCS %d: %d hashes at once, want %d", procs, got, want)
		}
		if got := cap(NewHasher(fast, 0, time.Second).slots); got != want {
			t.Errorf("GOMAXPROCS %d: NewHasher with 0 runs %d at once, want %d", procs, got, want)
		}
	}
}
