package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// postOpt is a form request, with HTTP basic authentication when user is
// set.
type postOpt struct {
	form       url.Values
	user, pass string
	bearer     string
}

// post sends a form to path and decodes the JSON answer; it fails t on a
// 5xx or a body that is not JSON.
func (s *testServer) post(t testing.TB, path string, o postOpt) (int, map[string]any) {
	t.Helper()
	return s.doJSON(t, s.formRequest(t, path, o))
}

// formRequest builds the request post sends.
func (s *testServer) formRequest(t testing.TB, path string, o postOpt) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+path, strings.NewReader(o.form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if o.user != "" {
		// RFC 6749 section 2.3.1: form-encoded, then Basic.
		req.SetBasicAuth(url.QueryEscape(o.user), url.QueryEscape(o.pass))
	}
	if o.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+o.bearer)
	}
	return req
}

func (s *testServer) doJSON(t testing.TB, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	out := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", req.Method, req.URL.Path, resp.StatusCode, body)
		}
	}
	return resp.StatusCode, out
}

func (s *testServer) request(t testing.TB, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

type rawResponse struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (s *testServer) send(t testing.TB, req *http.Request) rawResponse {
	t.Helper()
	r, err := sendRaw(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sendRaw(req *http.Request) (rawResponse, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rawResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return rawResponse{}, err
	}
	r := rawResponse{status: resp.StatusCode, header: resp.Header, raw: string(b), body: map[string]any{}}
	_ = json.Unmarshal(b, &r.body)
	return r, nil
}

// race sends n requests at once (built up front) and returns their
// answers; a 5xx fails t.
func race(t testing.TB, n int, build func() *http.Request) []rawResponse {
	t.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = build()
	}
	out := make([]rawResponse, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = sendRaw(reqs[i])
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range out {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if r.status >= 500 {
			t.Errorf("racing request %d: %d %s", i, r.status, r.raw)
		}
	}
	return out
}

// oauthError returns the RFC 6749 error code of a JSON error body.
func oauthError(body map[string]any) string {
	s, _ := body["error"].(string)
	return s
}

// claim returns a claim as a string ("" when absent or not a string).
func claim(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func describe(status int, body map[string]any) string {
	return fmt.Sprintf("%d %v", status, body)
}

func mustEqual[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func mustEqualSlice(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// checkJSONError asserts an RFC 6749 error answer: 4xx, JSON with an error
// code (want, when given), no stack trace.
func checkJSONError(t testing.TB, name string, r rawResponse, want string) {
	t.Helper()
	if r.status < 400 || r.status >= 500 {
		t.Errorf("%s: status %d, want 4xx: %s", name, r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", name, ct)
	}
	if oauthError(r.body) == "" {
		t.Errorf("%s: no error code in %q", name, r.raw)
	} else if want != "" && oauthError(r.body) != want {
		t.Errorf("%s: error %q, want %q", name, oauthError(r.body), want)
	}
	if strings.Contains(r.raw, ".go:") || strings.Contains(r.raw, "goroutine") {
		t.Errorf("%s: the answer leaks a stack trace: %s", name, r.raw)
	}
}

// noLeak fails when an answer shows internal details: a stack trace, a
// Go error of a store, SQL. Each pattern holds a space or a colon, which
// no random ID in a page (base64url) does, so an ID never matches one.
func noLeak(t testing.TB, what, body string) {
	t.Helper()
	for _, bad := range []string{"goroutine ", ".go:", "panic:", "panic(", "SQLSTATE ", "postgres:", "pgx:", "redis:", "flow: decode", "runtime error"} {
		if strings.Contains(body, bad) {
			t.Errorf("%s: the answer shows %q: %.300s", what, bad, body)
		}
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func withValues(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = vs
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func toStrings(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func audienceOf(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	return toStrings(v)
}

func contains(v any, want string) bool {
	list, _ := v.([]any)
	for _, x := range list {
		if x == want {
			return true
		}
	}
	return false
}
