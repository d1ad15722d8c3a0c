package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProxiesFindTheClient(t *testing.T) {
	proxies, err := ParseProxies([]string{"10.0.0.0/8", "2001:db8:ffff::1"})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		peer   string
		header [2]string
		want   string
	}{
		"no proxy configured is no trust":       {"192.0.2.7:1234", [2]string{"X-Forwarded-For", "198.51.100.1"}, "192.0.2.7"},
		"a trusted proxy names the client":      {"10.1.2.3:1234", [2]string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		"the rightmost untrusted hop wins":      {"10.1.2.3:1234", [2]string{"X-Forwarded-For", "203.0.113.9, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		"Forwarded with IPv6 and a port":        {"10.1.2.3:1234", [2]string{"Forwarded", `for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		"garbage stops at the trusted hop":      {"10.1.2.3:1234", [2]string{"X-Forwarded-For", "198.51.100.1, unknown"}, "10.1.2.3"},
		"a trusted IPv6 proxy":                  {"[2001:db8:ffff::1]:443", [2]string{"X-Forwarded-For", "198.51.100.4"}, "198.51.100.4"},
		"an untrusted peer's header is ignored": {"192.0.2.7:1234", [2]string{"Forwarded", "for=198.51.100.1"}, "192.0.2.7"},
	} {
		t.Run("case="+name, func(t *testing.T) {
			p := proxies
			if name == "no proxy configured is no trust" {
				p = nil
			}
			var got string
			h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ClientIP(r) }))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			r.Header.Set(tc.header[0], tc.header[1])
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Fatalf("client %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := ParseProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Fatal("a bad CIDR accepted")
	}
}

func TestClientNetworkGroupsIPv6By64(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7:1":              "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:1": "2001:db8:1:2::/64",
		"[2001:db8:1:2:bbbb::9]:1": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.8]:1":     "192.0.2.8",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr
		if got := ClientNetwork(r); got != want {
			t.Errorf("ClientNetwork(%s) = %s, want %s", addr, got, want)
		}
	}
}

func TestClientNetworkTakesAnotherIPv6Prefix(t *testing.T) {
	var got string
	h := WithIPv6Prefix(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ClientNetwork(r) }), 56)
	for addr, want := range map[string]string{
		"[2001:db8:1:2aa:aaaa::1]:1": "2001:db8:1:200::/56",
		"192.0.2.7:1":                "192.0.2.7",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != want {
			t.Errorf("ClientNetwork(%s) under /56 = %s, want %s", addr, got, want)
		}
	}
}
