package main

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

func TestVersionPrintsVersionCommitAndGoVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		t.Run("case="+arg, func(t *testing.T) {
			out := mustCLI(t, "", arg)
			for _, want := range []string{"latch ", "commit ", runtime.Version()} {
				if !strings.Contains(out, want) {
					t.Errorf("latch %s lacks %q:\n%s", arg, want, out)
				}
			}
		})
	}
}

func TestVersionFromLinkerFlags(t *testing.T) {
	version, commit = "v9.9.9", "abc123"
	defer func() { version, commit = "", "" }()
	out := mustCLI(t, "", "version")
	if !strings.Contains(out, "latch v9.9.9\n") || !strings.Contains(out, "commit abc123\n") {
		t.Fatalf("linker-set version not printed:\n%s", out)
	}
}

func readyzServer(t *testing.T, code int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
		w.Write([]byte(`{"postgres":"ok","redis":"ok"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHealthcheckSucceedsWhenReadyzAnswers200(t *testing.T) {
	base := readyzServer(t, http.StatusOK)
	mustCLI(t, "", "healthcheck", "--url", base+"/readyz")
}

func TestHealthcheckFailsWithOneLineWhenNotReady(t *testing.T) {
	base := readyzServer(t, http.StatusServiceUnavailable)
	_, _, err := cli(t, "", "healthcheck", "--url", base+"/readyz")
	if err == nil || !strings.Contains(err.Error(), "503") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one line naming 503, got %v", err)
	}
}

func TestHealthcheckDefaultsToLatchListen(t *testing.T) {
	base := readyzServer(t, http.StatusOK)
	t.Setenv("LATCH_LISTEN", ":"+base[strings.LastIndex(base, ":")+1:])
	mustCLI(t, "", "healthcheck")
}

func TestHealthcheckFailsWhenNothingListens(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, _, err := cli(t, "", "healthcheck", "--url", url+"/readyz")
	if err == nil || !strings.Contains(err.Error(), "not reachable") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one line saying not reachable, got %v", err)
	}
}
