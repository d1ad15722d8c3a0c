package metadoc

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// fetchCase serves handler and wants the fetch refused with an error
// containing want.
func fetchCase(t *testing.T, handler http.HandlerFunc, timeout time.Duration, want string) {
	t.Helper()
	s := newDocServer(t, handler)
	_, err := newFetcher(testTransport(s), timeout).get(t.Context(), s.URL+"/client.json", DefaultMaxBytes)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("fetch: %v, want an error containing %q", err, want)
	}
}

func TestFetchAcceptsJSON(t *testing.T) {
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/client-metadata+json"} {
		s := newDocServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Write([]byte(`{}`))
		})
		f, err := newFetcher(testTransport(s), time.Second).get(t.Context(), s.URL+"/client.json", DefaultMaxBytes)
		if err != nil || string(f.body) != "{}" || f.maxAge != 10*time.Minute {
			t.Errorf("%s: %v %q %v", ct, err, f.body, f.maxAge)
		}
	}
}

func TestFetchRefusesRedirect(t *testing.T) {
	fetchCase(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://169.254.169.254/latest/meta-data/", http.StatusFound)
	}, time.Second, "redirects are not followed")
}

func TestFetchRefusesOversizeDocument(t *testing.T) {
	big := `{"client_name":"` + strings.Repeat("a", DefaultMaxBytes) + `"}`
	fetchCase(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(big))
	}, time.Second, "larger than")
}

func TestFetchRefusesOversizeChunkedDocument(t *testing.T) {
	fetchCase(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for range 10 {
			w.Write([]byte(strings.Repeat(" ", 1024)))
			w.(http.Flusher).Flush() // no Content-Length: the read limit must hold
		}
	}, time.Second, "larger than")
}

func TestFetchTimesOutSlowServer(t *testing.T) {
	start := time.Now()
	fetchCase(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}, 300*time.Millisecond, "Timeout")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the fetch took %v despite a 300ms limit", d)
	}
}

func TestFetchRefusesWrongContentType(t *testing.T) {
	for _, ct := range []string{"text/html", "text/plain", "", "application/jsonp"} {
		t.Run("case="+ct, func(t *testing.T) {
			fetchCase(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{ct}
				w.Write([]byte(`{}`))
			}, time.Second, "is not JSON")
		})
	}
}

func TestFetchRefusesNon200(t *testing.T) {
	for _, status := range []int{http.StatusNoContent, http.StatusNotFound, http.StatusInternalServerError} {
		fetchCase(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
		}, time.Second, "want 200")
	}
}

func TestFetchSendsNoCredentials(t *testing.T) {
	var got http.Header
	s := newDocServer(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		serveJSON(map[string]any{}, "")(w, r)
	})
	if _, err := newFetcher(testTransport(s), time.Second).get(t.Context(), s.URL+"/client.json", DefaultMaxBytes); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Cookie", "Authorization"} {
		if got.Get(h) != "" {
			t.Errorf("the fetch sent %s", h)
		}
	}
}

func TestMaxAge(t *testing.T) {
	for cc, want := range map[string]time.Duration{
		"max-age=300":              5 * time.Minute,
		"public, max-age=86400":    24 * time.Hour,
		"no-store":                 0,
		"no-cache, max-age=600":    0,
		"max-age=-5":               0,
		"max-age=abc":              0,
		"":                         0,
		`private, max-age="120"`:   2 * time.Minute,
		"max-age=9999999999999999": 0,
	} {
		h := http.Header{}
		if cc != "" {
			h.Set("Cache-Control", cc)
		}
		if got := maxAge(h); got != want {
			t.Errorf("maxAge(%q) = %v, want %v", cc, got, want)
		}
	}
}
