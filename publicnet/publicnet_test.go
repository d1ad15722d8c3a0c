package publicnet

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14":          true,
		"2606:2800:21f:cb07::1":  true,
		"127.0.0.1":              false,
		"127.1.2.3":              false,
		"::1":                    false,
		"0.0.0.0":                false,
		"::":                     false,
		"10.1.2.3":               false,
		"172.16.5.4":             false,
		"192.168.1.1":            false,
		"fc00::1":                false,
		"fd12:3456::1":           false,
		"169.254.169.254":        false, // cloud metadata
		"fe80::1":                false,
		"100.64.0.1":             false, // CGNAT
		"224.0.0.1":              false,
		"ff02::1":                false,
		"255.255.255.255":        false,
		"192.0.2.1":              false,
		"198.18.0.1":             false,
		"::ffff:127.0.0.1":       false, // IPv4-mapped loopback
		"::ffff:10.0.0.1":        false,
		"::ffff:169.254.169.254": false,
		"::ffff:93.184.215.14":   true,
		"64:ff9b::a00:1":         false, // NAT64 of 10.0.0.1
		"2002:a00:1::1":          false, // 6to4 of 10.0.0.1
		"::127.0.0.1":            false, // IPv4-compatible
		"2001:db8::1":            false,
		"2606:4700::1111":        true,
		"fd00::1":                false,
		"172.16.0.1":             false,
	} {
		if got := Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestDialerRefusesNamesResolvingToPrivateAddresses resolves a public-looking
// name to private and metadata addresses, as a hostile DNS server would,
// and wants no connection attempted.
func TestDialerRefusesNamesResolvingToPrivateAddresses(t *testing.T) {
	for _, ips := range [][]string{{"10.0.0.7"}, {"192.168.1.20"}, {"172.20.0.1"}, {"169.254.169.254"}, {"fd00::1", "100.64.1.1"}} {
		t.Run("case="+ips[0], func(t *testing.T) {
			d := newDialer(time.Second)
			d.lookup = func(context.Context, string, string) ([]netip.Addr, error) {
				var out []netip.Addr
				for _, ip := range ips {
					out = append(out, netip.MustParseAddr(ip))
				}
				return out, nil
			}
			dialled := false
			d.net.Control = func(string, string, syscall.RawConn) error { dialled = true; return nil }
			_, err := d.DialContext(t.Context(), "tcp", "docs.example.com:443")
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("dial: %v, want %v", err, ErrForbiddenAddress)
			}
			if dialled {
				t.Fatal("a connection to a private address was attempted")
			}
		})
	}
}

// TestDialerChecksTheAddressActuallyDialled pins the second check: even
// when resolution said public, the address handed to the socket is checked
// again (DNS rebinding, or a resolver that lies only once).
func TestDialerChecksTheAddressActuallyDialled(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:443", "[::1]:443", "10.0.0.1:443", "169.254.169.254:80", "[::ffff:127.0.0.1]:443", "[fd00::1]:443"} {
		if err := controlPublic("tcp4", addr, nil); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("controlPublic(%s) = %v, want %v", addr, err, ErrForbiddenAddress)
		}
	}
	if err := controlPublic("tcp4", "93.184.215.14:443", nil); err != nil {
		t.Errorf("controlPublic(public) = %v", err)
	}
	if err := controlPublic("udp4", "93.184.215.14:53", nil); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("controlPublic(udp) = %v, want refused", err)
	}
}

func TestTransportUsesNoProxy(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	if NewTransport(time.Second).Proxy != nil {
		t.Fatal("the transport consults a proxy, which would connect past the address checks")
	}
}
