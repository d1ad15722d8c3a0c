package metadoc

import (
	"strings"
	"testing"
)

func TestCheckClientID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want string // "" means valid
	}{
		{"https://app.example.com/oauth/client.json", ""},
		{"https://app.example.com:8443/client", ""},
		{"http://app.example.com/client.json", "https"},
		{"https://app.example.com", "path"},
		{"https://app.example.com/a/../client.json", ". or .."},
		{"https://app.example.com/./client.json", ". or .."},
		{"https://app.example.com/a/%2E%2E/client.json", ". or .."},
		{"https://app.example.com/client.json#x", "fragment"},
		{"https://app.example.com/client.json#", "fragment"},
		{"https://me:pw@app.example.com/client.json", "user name"},
		{"https://me@app.example.com/client.json", "user name"},
		{"https://app.example.com/client.json?v=1", "query"},
		{"https:///client.json", "host"},
		{"https://app.example.com/" + strings.Repeat("a", 1100), "longer"},
	} {
		t.Run("case="+tc.id[:min(len(tc.id), 60)], func(t *testing.T) {
			_, err := CheckClientID(tc.id)
			if tc.want == "" && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestIsURL(t *testing.T) {
	for id, want := range map[string]bool{
		"https://app.example.com/c": true,
		"HTTPS://app.example.com/c": true,
		"https://":                  false,
		"my-client":                 false,
		"http://app.example.com/c":  false,
	} {
		if got := IsURL(id); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestParseHosts(t *testing.T) {
	t.Run("case=empty is off", func(t *testing.T) {
		h := mustHosts(t)
		if h.Enabled() || h.Allows("app.example.com") {
			t.Fatal("an empty list allows a host")
		}
	})
	t.Run("case=listed hosts only, case-insensitive", func(t *testing.T) {
		h := mustHosts(t, "App.Example.com", " other.example ", "127.0.0.1")
		for host, want := range map[string]bool{"app.example.com": true, "APP.example.com.": true, "other.example": true, "127.0.0.1": true, "evil.example": false, "sub.app.example.com": false} {
			if got := h.Allows(host); got != want {
				t.Errorf("Allows(%q) = %v, want %v", host, got, want)
			}
		}
	})
	t.Run("case=star allows any host", func(t *testing.T) {
		h := mustHosts(t, "*")
		if !h.Any() || !h.Allows("anything.example") {
			t.Fatal("* does not allow any host")
		}
	})
	t.Run("case=each bad entry is reported", func(t *testing.T) {
		_, err := ParseHosts([]string{"https://app.example.com", "*.example.com", "app.example.com:443", "a/b", "*", "ok.example"})
		if err == nil {
			t.Fatal("bad entries accepted")
		}
		for _, want := range []string{`"https://app.example.com"`, `"*.example.com"`, `"app.example.com:443"`, `"a/b"`, "* allows any public host"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
		if n := strings.Count(err.Error(), "\n") + 1; n != 5 {
			t.Errorf("want 5 lines, one per problem, got %d: %v", n, err)
		}
	})
}
