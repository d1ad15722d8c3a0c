package metadoc

import (
	"context"

	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// fetcher gets one JSON document with GET: status 200, a JSON content
// type, at most max bytes, no redirect followed, no cookie or credential
// sent (the client has no cookie jar, and the URLs carry no user
// information).
type fetcher struct {
	client *http.Client
}

func newFetcher(rt http.RoundTripper, timeout time.Duration) *fetcher {
	return &fetcher{client: &http.Client{
		Transport: rt,
		Timeout:   timeout,
		// A redirect would make latch fetch a URL the allow-list never
		// saw; the draft leaves following them to the server, and latch
		// does not.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// fetched is a document and how long it may be cached (0: no advice).
type fetched struct {
	body   []byte
	maxAge time.Duration
}

func (f *fetcher) get(ctx context.Context, u string, max int64) (fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fetched{}, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "latch (client metadata document fetcher)")
	resp, err := f.client.Do(req)
	if err != nil {
		return fetched{}, fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fetched{}, fmt.Errorf("fetch: answered %d: redirects are not followed", resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return fetched{}, fmt.Errorf("fetch: answered %d, want 200", resp.StatusCode)
	case !jsonType(resp.Header.Get("Content-Type")):
		return fetched{}, fmt.Errorf("fetch: content type %q is not JSON", resp.Header.Get("Content-Type"))
	case resp.ContentLength > max:
		return fetched{}, fmt.Errorf("fetch: document of %d bytes is larger than %d", resp.ContentLength, max)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return fetched{}, fmt.Errorf("fetch: read: %w", err)
	}
	if int64(len(body)) > max {
		return fetched{}, fmt.Errorf("fetch: document is larger than %d bytes", max)
	}
	return fetched{body: body, maxAge: maxAge(resp.Header)}, nil
}

// jsonType accepts application/json and the application/*+json types.
func jsonType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// maxAge reads Cache-Control's max-age; no-store and no-cache count as 0
// (the caller's minimum applies).
func maxAge(h http.Header) time.Duration {
	var age time.Duration
	for _, d := range strings.Split(strings.Join(h.Values("Cache-Control"), ","), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(k) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
			if err == nil && n > 0 && n < int64(365*24*time.Hour/time.Second) {
				age = time.Duration(n) * time.Second
			}
		}
	}
	return age
}
