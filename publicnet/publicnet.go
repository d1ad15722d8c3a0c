// Package publicnet connects only to addresses on the public internet:
// the one rule for every connection latch makes to a URL a client or a
// stranger chose (client metadata documents, back-channel logout
// receivers), so that no such URL can lead latch into its own network.
package publicnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is the error of a connection refused because its
// address is not public.
var ErrForbiddenAddress = errors.New("publicnet: address is not public")

// nonPublic are the ranges that are neither loopback, private, link-local
// nor multicast by netip's predicates, yet must never be reached from a
// URL a stranger names: shared, reserved, documentation and benchmarking
// ranges, and the IPv6 forms that embed an IPv4 address (NAT64, 6to4,
// Teredo, IPv4-compatible and -translated), whose IPv4 part could be
// private.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),      // shared address space (CGNAT), RFC 6598
	netip.MustParsePrefix("192.0.0.0/24"),       // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),       // documentation
	netip.MustParsePrefix("198.18.0.0/15"),      // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"),    // documentation
	netip.MustParsePrefix("203.0.113.0/24"),     // documentation
	netip.MustParsePrefix("240.0.0.0/4"),        // reserved, and broadcast
	netip.MustParsePrefix("::/96"),              // IPv4-compatible (deprecated)
	netip.MustParsePrefix("::ffff:0:0:0/96"),    // IPv4-translated
	netip.MustParsePrefix("64:ff9b::/96"),       // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"),     // local-use NAT64
	netip.MustParsePrefix("100::/64"),           // discard
	netip.MustParsePrefix("2001::/32"),          // Teredo
	netip.MustParsePrefix("2001:db8::/32"),      // documentation
	netip.MustParsePrefix("2002::/16"),          // 6to4
	netip.MustParsePrefix("fec0::/10"),          // site-local (deprecated)
	netip.MustParsePrefix("5f00::/16"),          // SRv6 SIDs
	netip.MustParsePrefix("3fff::/20"),          // documentation
	netip.MustParsePrefix("2001:2::/48"),        // benchmarking
	netip.MustParsePrefix("2001:10::/28"),       // ORCHID
	netip.MustParsePrefix("2001:20::/28"),       // ORCHIDv2
	netip.MustParsePrefix("192.88.99.0/24"),     // 6to4 relay anycast
	netip.MustParsePrefix("255.255.255.255/32"), // limited broadcast
}

// Public reports whether ip may be connected to: a unicast global address
// outside every special-purpose range. An IPv4-mapped IPv6 address is
// judged as the IPv4 address it maps.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.Zone() != "" || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() || !ip.IsGlobalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// lookupFunc resolves a host name, as net.Resolver.LookupNetIP does.
type lookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// dialer connects only to public addresses. It resolves the host itself
// and skips every address that is not public; then the connection's
// Control hook checks the address actually dialled once more, so no
// resolution in between (DNS rebinding) can lead it elsewhere.
type dialer struct {
	lookup lookupFunc
	net    net.Dialer
}

func newDialer(timeout time.Duration) *dialer {
	d := &dialer{lookup: net.DefaultResolver.LookupNetIP}
	d.net = net.Dialer{Timeout: timeout, Control: controlPublic}
	return d
}

// controlPublic runs after the address is chosen and before the
// connection is made: the last word on where latch connects.
func controlPublic(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %s", ErrForbiddenAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !Public(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	return nil
}

// DialContext connects to a public address of addr's host, trying each in
// turn.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, fmt.Errorf("%w: network %s", ErrForbiddenAddress, network)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = d.lookup(ctx, "ip", host); err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range ips {
		if !Public(ip) {
			errs = append(errs, fmt.Errorf("%w: %s resolves to %s", ErrForbiddenAddress, host, ip))
			continue
		}
		c, err := d.net.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("publicnet: %s has no address", host)
	}
	return nil, errors.Join(errs...)
}

// NewTransport returns a transport that connects only to public addresses
// (see dialer), never through a proxy (a proxy would connect on latch's
// behalf, past every check), and bounds the time of each step.
func NewTransport(timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            newDialer(timeout).DialContext,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 16 << 10,
		DisableCompression:     true,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           16,
		IdleConnTimeout:        30 * time.Second,
	}
}
