package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Params are Argon2id cost parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
}

// DefaultParams are OWASP's minimum for Argon2id: 19 MiB, two passes, one
// lane.
func DefaultParams() Params {
	return Params{Memory: 19456, Iterations: 2, Parallelism: 1}
}

const (
	saltLen   = 16
	keyLen    = 32
	maxKeyLen = 1024
)

// Upper bounds of the parameters, when configuring a hasher and when
// parsing a stored hash, so a corrupt row can make one verification neither
// allocate more than this nor run for hours.
const (
	MaxMemory     = 4 << 20 // KiB, 4 GiB
	MaxIterations = 1024
)

// ErrBusy is returned when too many hashes are being computed at once and a
// slot did not free up in time. The pages answer 429.
var ErrBusy = errors.New("too many password checks at once; try again in a moment")

// ErrMalformed is returned by Verify for a stored hash it cannot parse.
var ErrMalformed = errors.New("password: malformed password hash")

// Hasher computes and verifies Argon2id hashes. Each computation holds
// Params.Memory KiB, so the number running at once is bounded: a flood of
// logins queues briefly and is then refused with ErrBusy instead of
// exhausting memory.
type Hasher struct {
	params Params
	slots  chan struct{}
	wait   time.Duration
	// dummy stands in for a stored hash when the user does not exist: it
	// has the hasher's parameters, so checking it costs what checking a
	// real hash costs, and a random key, so nothing ever matches it.
	dummy string

	// Each hash allocates Params.Memory anew; after a burst of sign-ins
	// the Go heap keeps those pages until the next collections, long
	// after the burst. Once no hash has run for ReleaseAfter, release
	// (debug.FreeOSMemory) collects and hands them back to the OS.
	mu      sync.Mutex
	idle    *time.Timer
	release func()
}

// ReleaseAfter is how long the hasher waits, once no hash is running,
// before it gives the memory of the last hashes back to the OS.
const ReleaseAfter = 5 * time.Second

// NewHasher returns a Hasher that runs at most concurrency computations at
// once (DefaultConcurrency when below 1); a caller beyond that waits up to
// wait, then gets ErrBusy.
func NewHasher(p Params, concurrency int, wait time.Duration) *Hasher {
	if concurrency < 1 {
		concurrency = DefaultConcurrency()
	}
	if p.Parallelism == 0 {
		p.Parallelism = 1
	}
	return &Hasher{
		params:  p,
		slots:   make(chan struct{}, concurrency),
		wait:    wait,
		dummy:   encode(p, random(saltLen), random(keyLen)),
		release: debug.FreeOSMemory,
	}
}

// DefaultConcurrency is how many hashes run at once unless configured:
// one less than the cores Go schedules on (GOMAXPROCS, which follows a
// container's CPU limit), and at least one. A hash holds its core for tens
// of milliseconds; were every core hashing, each other request would wait
// for the scheduler's 10 ms time slices at every step, and a flood of
// sign-ins would starve the token endpoint (make bench, "sign-in flood").
func DefaultConcurrency() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of pw under a fresh 16-byte salt:
// $argon2id$v=19$m=...,t=...,p=...$salt$key.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := random(saltLen)
	key, err := h.compute(ctx, pw, salt, h.params, keyLen)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether pw matches the PHC string phc, comparing in
// constant time. rehash is true when pw matched and phc was made with weaker
// parameters than the hasher's, so the caller should store a fresh Hash.
//
// An empty phc verifies against a dummy hash with the hasher's parameters
// and reports ok=false, so that an unknown account costs the same time as a
// wrong password.
func (h *Hasher) Verify(ctx context.Context, phc, pw string) (ok, rehash bool, err error) {
	if phc == "" {
		phc = h.dummy
	}
	p, salt, want, err := decode(phc)
	if err != nil {
		return false, false, err
	}
	got, err := h.compute(ctx, pw, salt, p, uint32(len(want)))
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, h.weaker(p, len(salt), len(want)), nil
}

// weaker reports whether a stored hash falls short of the hasher's
// parameters. Parallelism is left out: it splits the same memory and passes
// into lanes rather than adding cost, and changing it alone is no reason to
// rehash every user.
func (h *Hasher) weaker(p Params, saltN, keyN int) bool {
	return p.Memory < h.params.Memory ||
		p.Iterations < h.params.Iterations ||
		saltN < saltLen ||
		keyN < keyLen
}

func (h *Hasher) compute(ctx context.Context, pw string, salt []byte, p Params, n uint32) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer h.done()
	return argon2.IDKey([]byte(pw), salt, p.Iterations, p.Memory, p.Parallelism, n), nil
}

// done frees the caller's slot and, when it was the last one taken, arms
// the release of the hashes' memory.
func (h *Hasher) done() {
	<-h.slots
	if len(h.slots) > 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.idle == nil {
		h.idle = time.AfterFunc(ReleaseAfter, h.releaseIfIdle)
		return
	}
	h.idle.Reset(ReleaseAfter)
}

// releaseIfIdle releases the hashes' memory unless a hash runs now (its
// own end arms the release again).
func (h *Hasher) releaseIfIdle() {
	if len(h.slots) == 0 {
		h.release()
	}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(h.wait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

var b64 = base64.RawStdEncoding

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decode(phc string) (p Params, salt, key []byte, err error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformed
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported argon2 version", ErrMalformed)
	}
	var m, t, par uint64
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, found := strings.Cut(kv, "=")
		if !found {
			return p, nil, nil, ErrMalformed
		}
		var dst *uint64
		var bits int
		switch k {
		case "m":
			dst, bits = &m, 32
		case "t":
			dst, bits = &t, 32
		case "p":
			dst, bits = &par, 8
		default:
			return p, nil, nil, ErrMalformed
		}
		n, perr := strconv.ParseUint(v, 10, bits)
		if perr != nil {
			return p, nil, nil, ErrMalformed
		}
		*dst = n
	}
	if m == 0 || m > MaxMemory || t == 0 || t > MaxIterations || par == 0 || m < 8*par {
		return p, nil, nil, fmt.Errorf("%w: parameters out of range", ErrMalformed)
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) == 0 {
		return p, nil, nil, ErrMalformed
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 4 || len(key) > maxKeyLen {
		return p, nil, nil, ErrMalformed
	}
	return Params{Memory: uint32(m), Iterations: uint32(t), Parallelism: uint8(par)}, salt, key, nil
}

func random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}
