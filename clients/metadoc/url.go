package metadoc

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// maxClientIDLength bounds a client_id URL: it is fetched, cached and
// shown, and no real document needs a longer address.
const maxClientIDLength = 1024

// IsURL reports whether id is meant as the URL of a metadata document
// rather than the ID of a registered client: it starts with https://.
// Registered client IDs never contain ':' (package clients refuses it), so
// the two never overlap.
func IsURL(id string) bool {
	return len(id) > len("https://") && strings.EqualFold(id[:len("https://")], "https://")
}

// CheckClientID applies the draft's rules to a client_id URL: https, a
// host, a path, no "." or ".." path segment, no fragment, no user
// information, and (the draft's SHOULD NOT, made a rule here) no query.
// It returns the parsed URL.
func CheckClientID(id string) (*url.URL, error) {
	if len(id) > maxClientIDLength {
		return nil, fmt.Errorf("client_id URL is longer than %d characters", maxClientIDLength)
	}
	u, err := url.Parse(id)
	if err != nil {
		return nil, errors.New("client_id is not a URL")
	}
	switch {
	case u.Scheme != "https":
		return nil, errors.New("client_id URL must use https")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("client_id URL has no host")
	case u.User != nil:
		return nil, errors.New("client_id URL must not contain a user name or password")
	case u.Fragment != "" || strings.Contains(id, "#"):
		return nil, errors.New("client_id URL must not contain a fragment")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("client_id URL must not contain a query")
	case u.Path == "":
		return nil, errors.New("client_id URL must contain a path")
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/")[1:] {
		if s := strings.ToLower(seg); s == "." || s == ".." || s == "%2e" || s == "%2e%2e" || s == ".%2e" || s == "%2e." {
			return nil, errors.New("client_id URL must not contain . or .. path segments")
		}
	}
	return u, nil
}

// Hosts is the allow-list of hosts that may serve metadata documents
// (LATCH_CLIENT_METADATA_HOSTS). The zero value allows none: the feature is
// off.
type Hosts struct {
	any   bool
	names []string
}

// AnyHost is the entry that allows every host; the address checks still
// keep latch off non-public addresses.
const AnyHost = "*"

// ParseHosts builds the allow-list from its entries: host names or IP
// addresses without scheme, port or path, or "*" alone for any public
// host. Every bad entry is reported, one line each.
func ParseHosts(entries []string) (Hosts, error) {
	var h Hosts
	var errs []error
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		switch {
		case e == "":
			continue
		case e == AnyHost:
			h.any = true
		case strings.Contains(e, "*"):
			errs = append(errs, fmt.Errorf("%q: wildcards are not supported; list each host, or use * alone for any public host", e))
		case net.ParseIP(strings.Trim(e, "[]")) != nil:
			h.names = append(h.names, strings.Trim(e, "[]"))
		case !validHostName(e):
			errs = append(errs, fmt.Errorf("%q is not a host name (give only the host, like app.example.com, without scheme, port or path)", e))
		default:
			h.names = append(h.names, strings.TrimSuffix(e, "."))
		}
	}
	if h.any && len(h.names) > 0 {
		errs = append(errs, errors.New("* allows any public host: give it alone, without other hosts"))
	}
	return h, errors.Join(errs...)
}

func validHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// Enabled reports whether any host is allowed.
func (h Hosts) Enabled() bool { return h.any || len(h.names) > 0 }

// Any reports whether every public host is allowed.
func (h Hosts) Any() bool { return h.any }

// Allows reports whether host (without port) may serve documents.
func (h Hosts) Allows(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return h.any || slices.Contains(h.names, host)
}
