package metadoc

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"testing"
	"time"
)

// testResolver resolves documents of s through the test's transport, with
// the host of s allowed.
func testResolver(t *testing.T, s *docServer, edit func(*Options)) *Resolver {
	t.Helper()
	o := Options{Hosts: mustHosts(t, "127.0.0.1"), Transport: testTransport(s)}
	if edit != nil {
		edit(&o)
	}
	return New(o)
}

func TestResolverCachesDocuments(t *testing.T) {
	var s *docServer
	s = newDocServer(t, serveDocument(&s, "/client.json", "max-age=600"))
	r := testResolver(t, s, nil)
	for range 3 {
		c, err := r.Client(t.Context(), s.URL+"/client.json")
		if err != nil || c.ID != s.URL+"/client.json" {
			t.Fatalf("Client: %+v %v", c, err)
		}
	}
	if n := s.hits.Load(); n != 1 {
		t.Fatalf("fetched %d times, want once", n)
	}
}

func TestResolverClampsMaxAge(t *testing.T) {
	for cc, want := range map[string]time.Duration{"max-age=1": DefaultMinTTL, "max-age=2592000": DefaultMaxTTL, "": DefaultMinTTL, "max-age=3600": time.Hour} {
		var s *docServer
		s = newDocServer(t, serveDocument(&s, "/client.json", cc))
		r := testResolver(t, s, nil)
		if _, err := r.Client(t.Context(), s.URL+"/client.json"); err != nil {
			t.Fatal(err)
		}
		ttl := time.Until(r.cache[s.URL+"/client.json"].exp)
		if ttl > want || ttl < want-time.Minute {
			t.Errorf("Cache-Control %q: cached for %v, want %v", cc, ttl, want)
		}
	}
}

func TestResolverRefetchesAfterExpiry(t *testing.T) {
	var s *docServer
	s = newDocServer(t, serveDocument(&s, "/client.json", "max-age=1"))
	r := testResolver(t, s, func(o *Options) { o.MinTTL, o.MaxTTL = 50*time.Millisecond, 50*time.Millisecond })
	r.Client(t.Context(), s.URL+"/client.json")
	time.Sleep(80 * time.Millisecond)
	r.Client(t.Context(), s.URL+"/client.json")
	if n := s.hits.Load(); n != 2 {
		t.Fatalf("fetched %d times, want twice", n)
	}
}

func TestResolverCachesFailuresBriefly(t *testing.T) {
	s := newDocServer(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	r := testResolver(t, s, func(o *Options) { o.NegativeTTL = 100 * time.Millisecond })
	for range 5 {
		if _, err := r.Client(t.Context(), s.URL+"/client.json"); !errors.Is(err, ErrUnresolved) {
			t.Fatalf("Client: %v, want %v", err, ErrUnresolved)
		}
	}
	if n := s.hits.Load(); n != 1 {
		t.Fatalf("a failing URL was fetched %d times, want once", n)
	}
	time.Sleep(150 * time.Millisecond)
	r.Client(t.Context(), s.URL+"/client.json")
	if n := s.hits.Load(); n != 2 {
		t.Fatalf("after the negative TTL: fetched %d times, want twice", n)
	}
}

func TestResolverSharesConcurrentFetches(t *testing.T) {
	release := make(chan struct{})
	var s *docServer
	doc := serveDocument(&s, "/client.json", "")
	s = newDocServer(t, func(w http.ResponseWriter, r *http.Request) { <-release; doc(w, r) })
	r := testResolver(t, s, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := r.Client(t.Context(), s.URL+"/client.json")
			errs <- err
		})
	}
	time.Sleep(100 * time.Millisecond) // let every lookup wait on the fetch
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.hits.Load(); n != 1 {
		t.Fatalf("20 concurrent lookups fetched %d times, want once", n)
	}
}

func TestResolverBoundsItsCache(t *testing.T) {
	s := newDocServer(t, nil)
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveJSON(publicDoc(s.URL+r.URL.Path), "max-age=3600")(w, r)
	})
	r := testResolver(t, s, func(o *Options) { o.MaxEntries = 3 })
	for i := range 6 {
		if _, err := r.Client(t.Context(), fmt.Sprintf("%s/c%d.json", s.URL, i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.Len(); n != 3 {
		t.Fatalf("cache holds %d entries, want at most 3", n)
	}
}

func TestResolverRefusesHostsOffTheList(t *testing.T) {
	var s *docServer
	s = newDocServer(t, serveDocument(&s, "/client.json", ""))
	r := testResolver(t, s, func(o *Options) { o.Hosts = mustHosts(t, "app.example.com") })
	if _, err := r.Client(t.Context(), s.URL+"/client.json"); !errors.Is(err, ErrUnresolved) {
		t.Fatalf("Client: %v, want %v", err, ErrUnresolved)
	}
	if n := s.hits.Load(); n != 0 {
		t.Fatalf("a host off the list was fetched %d times", n)
	}
}

func TestResolverOffResolvesNothing(t *testing.T) {
	var s *docServer
	s = newDocServer(t, serveDocument(&s, "/client.json", ""))
	r := testResolver(t, s, func(o *Options) { o.Hosts = Hosts{} })
	if r.Handles(s.URL + "/client.json") {
		t.Error("an off resolver claims a URL client ID")
	}
	if _, err := r.Client(t.Context(), s.URL+"/client.json"); !errors.Is(err, ErrUnresolved) || s.hits.Load() != 0 {
		t.Fatalf("Client: %v after %d fetches", err, s.hits.Load())
	}
}

// TestResolverRefusesLoopbackByDefault is the whole production path: with
// no transport given, a document on an allowed loopback host is refused.
func TestResolverRefusesLoopbackByDefault(t *testing.T) {
	var s *docServer
	s = newDocServer(t, serveDocument(&s, "/client.json", ""))
	r := New(Options{Hosts: mustHosts(t, "127.0.0.1", "localhost")})
	_, port, _ := splitHostPort(s.URL)
	for _, id := range []string{s.URL + "/client.json", "https://localhost:" + port + "/client.json"} {
		if _, err := r.Client(t.Context(), id); !errors.Is(err, ErrUnresolved) {
			t.Fatalf("Client(%s): %v, want %v", id, err, ErrUnresolved)
		}
	}
	if n := s.hits.Load(); n != 0 {
		t.Fatalf("loopback was reached %d times", n)
	}
}

// rsaJWKS is a JWK Set with one fresh RSA public key.
func rsaJWKS(t *testing.T) map[string]any {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
	}}}
}

func TestResolverFetchesKeysOfJWKSURI(t *testing.T) {
	jwks := rsaJWKS(t)
	var s *docServer
	s = newDocServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jwks.json" {
			serveJSON(jwks, "")(w, r)
			return
		}
		d := publicDoc(s.URL + "/client.json")
		d["token_endpoint_auth_method"] = "private_key_jwt"
		d["jwks_uri"] = s.URL + "/jwks.json"
		serveJSON(d, "")(w, r)
	})
	c, err := testResolver(t, s, nil).Client(t.Context(), s.URL+"/client.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.JWKS == "" || c.JWKSURI != "" || c.TokenEndpointAuthMethod != "private_key_jwt" {
		t.Fatalf("want the keys inline and no jwks_uri left for fosite to fetch: %+v", c)
	}
}

func TestResolverRefusesJWKSURIOffTheList(t *testing.T) {
	var s *docServer
	s = newDocServer(t, func(w http.ResponseWriter, r *http.Request) {
		d := publicDoc(s.URL + "/client.json")
		d["token_endpoint_auth_method"] = "private_key_jwt"
		d["jwks_uri"] = "https://169.254.169.254/jwks.json"
		serveJSON(d, "")(w, r)
	})
	if _, err := testResolver(t, s, nil).Client(t.Context(), s.URL+"/client.json"); !errors.Is(err, ErrUnresolved) {
		t.Fatalf("Client: %v, want %v", err, ErrUnresolved)
	}
}
