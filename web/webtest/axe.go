package webtest

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"archive/tar"
	"compress/gzip"

	"github.com/chromedp/chromedp"
)

// axe-core, Deque's accessibility engine (MPL-2.0), which the browser
// tests run on latch's pages. It is fetched once from the npm registry
// into the user's cache directory and checked against the integrity the
// registry published for this version.
const (
	axeVersion   = "4.14.1"
	axeIntegrity = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
	axeTarball   = "https://registry.npmjs.org/axe-core/-/axe-core-" + axeVersion + ".tgz"
)

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// axeScript returns axe.min.js, fetching it the first time (AXE_CORE may
// name a copy of it instead).
func axeScript(t testing.TB) string {
	t.Helper()
	axeOnce.Do(func() { axeSource, axeErr = loadAxe() })
	if axeErr != nil {
		t.Fatalf("axe-core: %v", axeErr)
	}
	return axeSource
}

func loadAxe() (string, error) {
	if p := os.Getenv("AXE_CORE"); p != "" {
		b, err := os.ReadFile(p)
		return string(b), err
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "latch", "axe-core-"+axeVersion+".min.js")
	if b, err := os.ReadFile(path); err == nil {
		return string(b), nil
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Get(axeTarball)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", axeTarball, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetch %s: %s", axeTarball, resp.Status)
	}
	tgz, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return "", err
	}
	sum := sha512.Sum512(tgz)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != axeIntegrity {
		return "", fmt.Errorf("%s: integrity %s, want %s", axeTarball, got, axeIntegrity)
	}
	zr, err := gzip.NewReader(strings.NewReader(string(tgz)))
	if err != nil {
		return "", err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return "", fmt.Errorf("%s: no package/axe.min.js: %w", axeTarball, err)
		}
		if h.Name != "package/axe.min.js" {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 16<<20))
		if err != nil {
			return "", err
		}
		// Written whole or not at all: parallel test binaries may race here.
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
			if os.WriteFile(tmp, b, 0o644) == nil {
				_ = os.Rename(tmp, path)
			}
		}
		return string(b), nil
	}
}

// AxeViolation is one accessibility rule a page breaks.
type AxeViolation struct {
	ID          string `json:"id"`
	Impact      string `json:"impact"`
	Description string `json:"description"`
	Nodes       []struct {
		Target []string `json:"target"`
	} `json:"nodes"`
}

// Accessible runs axe-core on the page the tab of ctx shows, against WCAG
// 2.1 A and AA, and fails t with every violation found, named with what.
// The script is evaluated through DevTools, which the page's CSP does not
// govern; the page itself stays script-free.
func Accessible(ctx context.Context, t testing.TB, what string) {
	t.Helper()
	Get(ctx, t, 30*time.Second, chromedp.Evaluate[bool](axeScript(t)+";true"))
	var violations []AxeViolation
	const run = `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]}).then(r => r.violations)`
	violations = Get(ctx, t, 30*time.Second, chromedp.Evaluate[[]AxeViolation](run, chromedp.EvalAwaitPromise))
	for _, v := range violations {
		var targets []string
		for _, n := range v.Nodes {
			targets = append(targets, strings.Join(n.Target, " "))
		}
		t.Errorf("%s: %s (%s): %s, at %s", what, v.ID, v.Impact, v.Description, strings.Join(targets, "; "))
	}
}
