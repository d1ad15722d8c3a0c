package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
)

// KeyStore is the part of storage.Store the manager uses.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k storage.SigningKey) error
	CreateSigningKeyUnlessNewer(ctx context.Context, k storage.SigningKey, since time.Time) (created bool, err error)
	ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error)
	DeleteSigningKey(ctx context.Context, id string) error
}

var _ KeyStore = storage.Store(nil)

// Defaults for zero Options fields.
const (
	DefaultRefresh = 15 * time.Second
	DefaultRetain  = 24 * time.Hour
)

// Options configure a Manager. Zero values take the documented defaults.
type Options struct {
	// Algorithms to keep a live key for, e.g. ["RS256"] or
	// ["RS256", "ES256"]. Default ["RS256"].
	Algorithms []string
	// Rotation is the period of automatic rotation; 0 means never (keys then
	// change only through Rotate).
	Rotation time.Duration
	// PublishAhead is how long a new key is in the JWKS before it signs.
	// It must exceed Refresh so every replica has loaded the key before any
	// replica signs with it. Default 2*Refresh.
	PublishAhead time.Duration
	// Retain is how long a retired key stays published after it stopped
	// signing: the longest lifetime of a JWT latch issues (access and ID
	// tokens). Default 24h.
	Retain time.Duration
	// Refresh is how often every replica reloads the keys from the store.
	// Default 15s.
	Refresh time.Duration
	// OnChange, if set, is called after the published key set changed (the
	// JWKS document differs), with the new Version.
	OnChange func(version uint64)
	Logger   *slog.Logger
	// Now is the clock; default time.Now. For tests.
	Now func() time.Time
}

// Manager holds the keyring and keeps it current. It is safe for
// concurrent use.
type Manager struct {
	store KeyStore
	box   *secret.Box
	opts  Options
	log   *slog.Logger

	ring atomic.Pointer[keyring]
	mu   sync.Mutex // serialises writers of ring
}

// NewManager returns a Manager with an empty keyring: call Init (server) or
// Reload (tools that must not create keys) before use.
func NewManager(store KeyStore, box *secret.Box, opts Options) *Manager {
	if len(opts.Algorithms) == 0 {
		opts.Algorithms = []string{RS256}
	}
	opts.Algorithms = slices.Clone(opts.Algorithms)
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.PublishAhead == 0 {
		opts.PublishAhead = 2 * opts.Refresh
	}
	if opts.Retain == 0 {
		opts.Retain = DefaultRetain
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{store: store, box: box, opts: opts, log: log.With("component", "keys")}
	empty, _ := newKeyring(nil, opts.Retain, opts.Now(), nil) // rendering an empty set cannot fail
	m.ring.Store(empty)
	return m
}

// Algorithms returns the configured algorithms.
func (m *Manager) Algorithms() []string { return slices.Clone(m.opts.Algorithms) }

func (m *Manager) validate() error {
	var errs []error
	for _, alg := range m.opts.Algorithms {
		if !supportedAlg(alg) {
			errs = append(errs, fmt.Errorf("keys: unsupported algorithm %q (want %s or %s)", alg, RS256, ES256))
		}
	}
	if m.opts.Rotation < 0 || m.opts.PublishAhead < 0 || m.opts.Retain < 0 {
		errs = append(errs, errors.New("keys: Rotation, PublishAhead and Retain must not be negative"))
	}
	if m.opts.Rotation > 0 && m.opts.Rotation <= m.opts.PublishAhead {
		errs = append(errs, fmt.Errorf("keys: rotation period %s must exceed the publish-ahead time %s", m.opts.Rotation, m.opts.PublishAhead))
	}
	return errors.Join(errs...)
}

// now is the clock, at the precision PostgreSQL keeps.
func (m *Manager) now() time.Time { return m.opts.Now().Truncate(time.Microsecond) }

// Init validates the options, loads the keys and creates the first key of
// every configured algorithm that has none; a first key signs at once.
// Replicas starting together create one key per algorithm between them.
func (m *Manager) Init(ctx context.Context) error {
	if err := m.validate(); err != nil {
		return err
	}
	if m.opts.PublishAhead <= m.opts.Refresh {
		m.log.WarnContext(ctx, "publish-ahead time does not exceed the refresh interval: another replica may not know a new key when it starts signing",
			"publish_ahead", m.opts.PublishAhead, "refresh", m.opts.Refresh)
	}
	return m.ensure(ctx, "first key", 0, func(r *keyring, _ time.Time) []string {
		var missing []string
		for _, alg := range m.opts.Algorithms {
			if !slices.ContainsFunc(r.keys, func(k *key) bool { return k.alg == alg }) {
				missing = append(missing, alg)
			}
		}
		return missing
	})
}

// ensure reloads and creates one key of the first algorithm need names,
// active after the given delay, until need names none. It creates through
// CreateSigningKeyUnlessNewer with the newest key it saw as the bound, so
// when replicas race only one of them creates a key each round, and the
// others see it at their next reload.
func (m *Manager) ensure(ctx context.Context, reason string, delay time.Duration, need func(*keyring, time.Time) []string) error {
	for range 4 + 4*len(m.opts.Algorithms) {
		if err := m.Reload(ctx); err != nil {
			return err
		}
		r := m.ring.Load()
		now := m.now()
		algs := need(r, now)
		if len(algs) == 0 {
			return nil
		}
		// The new key is stamped strictly after the newest key this replica
		// saw, so a replica racing from the same snapshot finds it "newer"
		// and backs off, even when both clocks read the same instant.
		stamp := now.Truncate(time.Microsecond)
		if !stamp.After(r.newest) {
			stamp = r.newest.Add(time.Microsecond)
		}
		rec, _, err := generate(m.box, algs[0], stamp, now.Add(delay))
		if err != nil {
			return err
		}
		created, err := m.store.CreateSigningKeyUnlessNewer(ctx, rec, r.newest)
		if err != nil {
			return fmt.Errorf("keys: store %s key: %w", rec.Algorithm, err)
		}
		if created {
			m.log.InfoContext(ctx, "signing key created", "reason", reason, "kid", rec.ID, "alg", rec.Algorithm, "active_at", rec.ActiveAt)
		}
	}
	return fmt.Errorf("keys: %s: keys of %v still missing after repeated attempts", reason, m.opts.Algorithms)
}

// Reload replaces the keyring with the keys in the store.
func (m *Manager) Reload(ctx context.Context) error {
	recs, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: list signing keys: %w", err)
	}
	m.mu.Lock()
	prev := m.ring.Load()
	ks := make([]*key, 0, len(recs))
	for _, rec := range recs {
		if k := prev.byID[rec.ID]; k != nil && k.alg == rec.Algorithm && k.active.Equal(rec.ActiveAt) {
			ks = append(ks, k) // already opened
			continue
		}
		k, err := open(m.box, rec)
		if err != nil {
			m.mu.Unlock()
			return err
		}
		ks = append(ks, k)
	}
	next, err := newKeyring(ks, m.opts.Retain, m.now(), prev)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	m.ring.Store(next)
	m.mu.Unlock()
	m.changed(prev, next)
	return nil
}

func (m *Manager) changed(prev, next *keyring) {
	if next.version != prev.version && m.opts.OnChange != nil {
		m.opts.OnChange(next.version)
	}
}

// Rotate creates a new key for every configured algorithm, published now
// and signing after PublishAhead, whatever the schedule. It returns the new
// keys (their private keys sealed).
func (m *Manager) Rotate(ctx context.Context) ([]storage.SigningKey, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	now := m.now()
	var out []storage.SigningKey
	for _, alg := range m.opts.Algorithms {
		rec, _, err := generate(m.box, alg, now, now.Add(m.opts.PublishAhead))
		if err != nil {
			return out, err
		}
		if err := m.store.CreateSigningKey(ctx, rec); err != nil {
			return out, fmt.Errorf("keys: store %s key: %w", alg, err)
		}
		m.log.InfoContext(ctx, "signing key created", "reason", "rotation requested", "kid", rec.ID, "alg", rec.Algorithm, "active_at", rec.ActiveAt)
		out = append(out, rec)
	}
	return out, m.Reload(ctx)
}

// Run reloads the keys every Refresh, rotates them on schedule and deletes
// keys past retention, until ctx ends. Errors are logged and retried at the
// next tick: a replica that cannot reach the store keeps its keyring.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Tick(ctx); err != nil && ctx.Err() == nil {
				m.log.ErrorContext(ctx, "signing keys maintenance failed", "err", err)
			}
		}
	}
}

// Tick is one round of Run: reload, rotate what is due, delete what is
// past retention.
func (m *Manager) Tick(ctx context.Context) error {
	var err error
	if m.opts.Rotation > 0 {
		err = m.ensure(ctx, "scheduled rotation", m.opts.PublishAhead, m.due) // reloads first
	} else {
		err = m.Reload(ctx)
	}
	if err != nil {
		return err
	}
	return m.deleteExpired(ctx)
}

// due names the algorithms whose newest key was created a rotation period
// ago or more (or that have none).
func (m *Manager) due(r *keyring, now time.Time) []string {
	var out []string
	for _, alg := range m.opts.Algorithms {
		var newest time.Time
		for _, k := range r.keys {
			if k.alg == alg && k.created.After(newest) {
				newest = k.created
			}
		}
		// Counted from the second the key was made: ensure may stamp keys a
		// few microseconds apart, and a rotation (an hour at least) of the
		// keys made together must come due together.
		if newest.IsZero() || !now.Before(newest.Truncate(time.Second).Add(m.opts.Rotation)) {
			out = append(out, alg)
		}
	}
	return out
}

// deleteExpired deletes the keys no longer published. Every replica may
// try; a key another replica deleted first is not an error.
func (m *Manager) deleteExpired(ctx context.Context) error {
	r := m.ring.Load()
	now := m.now()
	deleted := false
	for _, k := range r.keys {
		if k.published(now, m.opts.Retain) {
			continue
		}
		if err := m.store.DeleteSigningKey(ctx, k.id); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("keys: delete signing key %s: %w", k.id, err)
		}
		m.log.InfoContext(ctx, "signing key deleted after retention", "kid", k.id, "alg", k.alg, "retired_at", k.retired)
		deleted = true
	}
	if deleted {
		return m.Reload(ctx)
	}
	return nil
}

// Key states reported by List.
const (
	StateNext    = "next"    // published, not signing yet
	StateSigning = "signing" // the current key of its algorithm
	StateRetired = "retired" // no longer signs, still published
	StateExpired = "expired" // past retention, to be deleted
)

// KeyInfo describes one key, for operators (`latch keys list`).
type KeyInfo struct {
	ID        string    `json:"kid"`
	Algorithm string    `json:"alg"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	ActiveAt  time.Time `json:"active_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"` // when it stopped (or will stop) signing
}

// List describes the loaded keys, newest ActiveAt first.
func (m *Manager) List() []KeyInfo {
	r := m.ring.Load()
	now := m.now()
	out := make([]KeyInfo, 0, len(r.keys))
	for _, k := range r.keys {
		state := StateSigning
		switch {
		case k.active.After(now):
			state = StateNext
		case !k.published(now, m.opts.Retain):
			state = StateExpired
		case !k.retired.IsZero() && !k.retired.After(now):
			state = StateRetired
		}
		out = append(out, KeyInfo{ID: k.id, Algorithm: k.alg, State: state, CreatedAt: k.created, ActiveAt: k.active, RetiredAt: k.retired})
	}
	return out
}
