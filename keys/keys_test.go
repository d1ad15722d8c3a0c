package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/gorilla/mux"

	"github.com/latch-idp/latch/secret"
)

var bothAlgs = []string{RS256, ES256}

func decodeHeader(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var h, c map[string]any
	for i, dst := range []*map[string]any{&h, &c} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return h, c
}

func jwksOf(t *testing.T, m *Manager) jose.JSONWebKeySet {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	return set
}

func jwksKids(t *testing.T, m *Manager) []string {
	t.Helper()
	var out []string
	for _, k := range jwksOf(t, m).Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func TestInit(t *testing.T) {
	t.Run("case=first start generates one sealed key per algorithm, active at once", func(t *testing.T) {
		e := newEnv(t)
		m := e.started(t, Options{Algorithms: bothAlgs})
		recs := e.store.list(t)
		if len(recs) != 2 {
			t.Fatalf("stored %d keys, want 2", len(recs))
		}
		for _, rec := range recs {
			k := m.ring.Load().byID[rec.ID]
			if k == nil {
				t.Fatalf("stored key %s not loaded", rec.ID)
			}
			der, err := x509.MarshalPKCS8PrivateKey(k.priv)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(rec.PrivateKey, der) || bytes.Contains(rec.PrivateKey, der[len(der)-32:]) {
				t.Errorf("%s: stored private key contains the plaintext", rec.Algorithm)
			}
			var secretPart []byte
			switch p := k.priv.(type) {
			case *rsa.PrivateKey:
				secretPart = p.D.Bytes()
			case *ecdsa.PrivateKey:
				b, err := p.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				secretPart = b
			}
			if bytes.Contains(rec.PrivateKey, secretPart) {
				t.Errorf("%s: stored private key contains the private scalar", rec.Algorithm)
			}
			opened, err := e.box.Open(rec.PrivateKey, sealAD(rec.ID))
			if err != nil {
				t.Fatalf("%s: sealed key does not open with the box: %v", rec.Algorithm, err)
			}
			if !bytes.Equal(opened, der) {
				t.Errorf("%s: sealed key opens to something else", rec.Algorithm)
			}
			if _, err := e.box.Open(rec.PrivateKey, sealAD("other-kid")); err == nil {
				t.Errorf("%s: sealed key opens when bound to another kid", rec.Algorithm)
			}
			var pub jose.JSONWebKey
			if err := json.Unmarshal(rec.PublicKey, &pub); err != nil {
				t.Fatal(err)
			}
			if !pub.IsPublic() || pub.KeyID != rec.ID || pub.Algorithm != rec.Algorithm {
				t.Errorf("stored public key %+v: want a public JWK with kid and alg", pub)
			}
			if rec.ActiveAt.After(e.clock.Now()) {
				t.Errorf("%s: first key active at %v, after now", rec.Algorithm, rec.ActiveAt)
			}
			if m.ring.Load().current(rec.Algorithm, m.now()) == nil {
				t.Errorf("%s: no current key after Init", rec.Algorithm)
			}
		}
		if len(e.store.list(t)) != 2 {
			t.Fatal("keys changed")
		}
		// A restart loads the keys and creates none.
		again := e.started(t, Options{Algorithms: bothAlgs})
		if len(e.store.list(t)) != 2 || !slices.Equal(kids(again), kids(m)) {
			t.Errorf("restart: keys %v, want %v", kids(again), kids(m))
		}
	})

	t.Run("case=RSA keys are 2048 bits and EC keys P-256", func(t *testing.T) {
		e := newEnv(t)
		m := e.started(t, Options{Algorithms: bothAlgs})
		for _, k := range m.ring.Load().keys {
			switch p := k.pub.(type) {
			case *rsa.PublicKey:
				if k.alg != RS256 || p.N.BitLen() < 2048 {
					t.Errorf("%s key of %d bits", k.alg, p.N.BitLen())
				}
			case *ecdsa.PublicKey:
				if k.alg != ES256 || p.Curve.Params().Name != "P-256" {
					t.Errorf("%s key on %s", k.alg, p.Curve.Params().Name)
				}
			default:
				t.Errorf("%s key of type %T", k.alg, p)
			}
		}
	})

	t.Run("case=concurrent starts create one key per algorithm", func(t *testing.T) {
		e := newEnv(t)
		const replicas = 6
		ms := make([]*Manager, replicas)
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i := range ms {
			ms[i] = e.manager(Options{Algorithms: bothAlgs})
			wg.Go(func() { errs[i] = ms[i].Init(t.Context()) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		recs := e.store.list(t)
		var algs []string
		for _, r := range recs {
			algs = append(algs, r.Algorithm)
		}
		slices.Sort(algs)
		if !slices.Equal(algs, []string{ES256, RS256}) {
			t.Fatalf("stored keys of %v, want one RS256 and one ES256", algs)
		}
		for i, m := range ms {
			if got := len(m.List()); got != 2 {
				t.Errorf("replica %d sees %d keys", i, got)
			}
		}
	})

	t.Run("case=wrong secret fails without revealing key material", func(t *testing.T) {
		e := newEnv(t)
		e.started(t, Options{})
		other := NewManager(e.store, testBox(t, strings.Repeat("x", secret.MinLength)), Options{})
		err := other.Init(t.Context())
		if !errors.Is(err, secret.ErrOpen) {
			t.Fatalf("Init with another secret: %v, want secret.ErrOpen", err)
		}
		rec := e.store.list(t)[0]
		if !strings.Contains(err.Error(), rec.ID) {
			t.Errorf("error %q does not name the kid", err)
		}
		if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(rec.PrivateKey[:16])) {
			t.Errorf("error %q reveals the sealed key", err)
		}
		if len(e.store.list(t)) != 1 {
			t.Error("a key was created although the stored one cannot be opened")
		}
	})

	t.Run("case=bad options are all reported", func(t *testing.T) {
		e := newEnv(t)
		m := e.manager(Options{Algorithms: []string{"HS256", "none"}, Rotation: time.Second, PublishAhead: time.Minute})
		err := m.Init(t.Context())
		for _, want := range []string{`"HS256"`, `"none"`, "rotation period"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Init: %v, want it to mention %s", err, want)
			}
		}
		if len(e.store.list(t)) != 0 {
			t.Error("keys created despite bad options")
		}
	})
}

func TestJWKS(t *testing.T) {
	e := newEnv(t)
	m := e.started(t, Options{Algorithms: bothAlgs, Refresh: 10 * time.Second, PublishAhead: time.Minute})
	r := mux.NewRouter()
	(&Handler{Keys: m}).Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	get := func(t *testing.T, method string, hdr http.Header) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+JWKSPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, body
	}

	t.Run("case=entries carry kid, kty, use sig and alg, and no private members", func(t *testing.T) {
		res, body := get(t, http.MethodGet, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		var doc struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Keys) != 2 {
			t.Fatalf("%d keys, want 2", len(doc.Keys))
		}
		wantKty := map[string]string{RS256: "RSA", ES256: "EC"}
		for _, k := range doc.Keys {
			alg, _ := k["alg"].(string)
			if k["kid"] == "" || k["use"] != "sig" || k["kty"] != wantKty[alg] {
				t.Errorf("entry %v: want kid, use sig, kty %q", k, wantKty[alg])
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth"} {
				if _, ok := k[private]; ok {
					t.Errorf("entry %s carries private member %q", k["kid"], private)
				}
			}
		}
		if !bytes.Equal(body, m.JWKS()) {
			t.Error("handler and JWKS() disagree")
		}
	})

	t.Run("case=headers: JSON, public cache shorter than publish-ahead, ETag", func(t *testing.T) {
		res, _ := get(t, http.MethodGet, nil)
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		cc := res.Header.Get("Cache-Control")
		age, ok := strings.CutPrefix(cc, "public, max-age=")
		if !ok {
			t.Fatalf("Cache-Control %q", cc)
		}
		secs, err := strconv.Atoi(age)
		if err != nil || secs <= 0 || time.Duration(secs)*time.Second >= time.Minute-10*time.Second {
			t.Errorf("max-age %q: want positive and below PublishAhead-Refresh", age)
		}
		if res.Header.Get("ETag") == "" {
			t.Error("no ETag")
		}
	})

	t.Run("case=If-None-Match gets 304, HEAD no body, POST 405", func(t *testing.T) {
		res, _ := get(t, http.MethodGet, nil)
		res2, body := get(t, http.MethodGet, http.Header{"If-None-Match": {res.Header.Get("ETag")}})
		if res2.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("conditional GET: %d with %d bytes", res2.StatusCode, len(body))
		}
		res3, body := get(t, http.MethodHead, nil)
		if res3.StatusCode != http.StatusOK || len(body) != 0 {
			t.Errorf("HEAD: %d with %d bytes", res3.StatusCode, len(body))
		}
		res4, _ := get(t, http.MethodPost, nil)
		if res4.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST: %d", res4.StatusCode)
		}
	})

	t.Run("case=rendered once per change, not per request", func(t *testing.T) {
		served := &m.ring.Load().jwks[0]
		for range 3 {
			get(t, http.MethodGet, nil)
			m.JWKS()
		}
		if &m.ring.Load().jwks[0] != served {
			t.Error("requests re-rendered the document")
		}
		v := m.Version()
		for range 3 {
			if err := m.Reload(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if m.Version() != v {
			t.Errorf("version moved from %d to %d without a key change", v, m.Version())
		}
		// JWKS() hands out a copy: a caller cannot corrupt the served document.
		b := m.JWKS()
		b[0] = 'X'
		if m.JWKS()[0] == 'X' {
			t.Error("JWKS() returns the served buffer")
		}
	})
}

func TestOnChange(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var changes []uint64
	m := e.started(t, Options{OnChange: func(v uint64) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, v)
	}})
	for range 3 {
		if err := m.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	v := m.Version()
	if _, err := m.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m.Version() != v+1 {
		t.Errorf("version %d after rotation, want %d", m.Version(), v+1)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || changes[1] != v+1 {
		t.Errorf("OnChange calls %v: want one for the first key and one for the rotation", changes)
	}
}
