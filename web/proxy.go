package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies whose forwarding headers latch believes
// (LATCH_TRUSTED_PROXIES). None by default: a header anyone can send names
// no client.
type Proxies []netip.Prefix

// ParseProxies reads CIDRs (a bare address is one host).
func ParseProxies(cidrs []string) (Proxies, error) {
	var out Proxies
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR", c)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR", c)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (p Proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Middleware sets the request's RemoteAddr to the client's address when the
// peer is a trusted proxy: the forwarding chain (Forwarded, else
// X-Forwarded-For) is read right to left, skipping trusted hops; the first
// address that is not a trusted proxy is the client's. An entry that is not
// an address stops the walk at the hop that sent it. Everything that reads
// the client's address (ClientIP) then sees the client, not the proxy.
func (p Proxies) Middleware(next http.Handler) http.Handler {
	if len(p) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddr(ClientIP(r))
		if err == nil && p.trusts(peer) {
			if client, ok := p.client(r, peer); ok && client != peer {
				r2 := r.Clone(r.Context())
				r2.RemoteAddr = net.JoinHostPort(client.String(), "0")
				r = r2
			}
		}
		next.ServeHTTP(w, r)
	})
}

// client walks the forwarding chain from the trusted peer outwards.
func (p Proxies) client(r *http.Request, peer netip.Addr) (netip.Addr, bool) {
	chain := forwardedFor(r.Header.Values("Forwarded"))
	if chain == nil {
		for _, v := range r.Header.Values("X-Forwarded-For") {
			chain = append(chain, strings.Split(v, ",")...)
		}
	}
	client := peer
	for i := len(chain) - 1; i >= 0; i-- {
		a, err := parseHop(chain[i])
		if err != nil {
			return client, true // garbage: believe nothing beyond the last trusted hop
		}
		client = a
		if !p.trusts(a) {
			return client, true
		}
	}
	return client, true
}

// forwardedFor lists the for= parameters of Forwarded headers (RFC 7239).
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					out = append(out, val)
				}
			}
		}
	}
	return out
}

// parseHop reads one hop: an address, with or without a port, quoted or
// bracketed.
func parseHop(s string) (netip.Addr, error) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return a.Unmap(), err
}

// DefaultIPv6Prefix is the IPv6 network per-address limits count as one
// client: a /64, which one subscriber usually holds whole.
const DefaultIPv6Prefix = 64

type ipv6PrefixKey struct{}

// WithIPv6Prefix makes ClientNetwork count IPv6 clients by their /bits
// network for the requests next serves (bits from 32 to 128; 128 counts
// each address).
func WithIPv6Prefix(next http.Handler, bits int) http.Handler {
	if bits == DefaultIPv6Prefix {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ipv6PrefixKey{}, bits)))
	})
}

// ClientNetwork is what per-address rate limits count: the client's
// address, or for IPv6 its network (DefaultIPv6Prefix, or as
// WithIPv6Prefix says).
func ClientNetwork(r *http.Request) string {
	a, err := netip.ParseAddr(ClientIP(r))
	switch {
	case err != nil:
		return ClientIP(r)
	case a.Unmap().Is4():
		return a.Unmap().String()
	}
	bits, ok := r.Context().Value(ipv6PrefixKey{}).(int)
	if !ok {
		bits = DefaultIPv6Prefix
	}
	return netip.PrefixFrom(a, bits).Masked().String()
}
