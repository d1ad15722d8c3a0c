package provider

import (
	"maps"
	"net/url"
	"reflect"
	"slices"
	"sync"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// decodedGrants remembers access-token grants as decoded, by token
// signature, with the exact bytes they were decoded from. A resource server
// introspects the same token again and again, and decoding its grant was a
// sixth of an introspection. The store is still read every time: a grant
// is taken from here only when the bytes just read are the ones it was
// decoded from, so a revoked or expired token (no bytes) or a changed
// grant (other bytes) never comes from here. What is handed out is a copy;
// the entries are never changed after they are added.
type decodedGrants struct {
	mu sync.Mutex
	m  map[string]decodedGrant
}

// maxDecodedGrants bounds the cache: a few MB at most. When it is full it
// starts over.
const maxDecodedGrants = 1024

type decodedGrant struct {
	data     string // the stored bytes
	clientID string
	req      fosite.Request // Client nil; Session a *Session
}

// get returns the grant of signature decoded from data into session, as
// unmarshalRequest would, when it was decoded before and session is empty
// (a session with values takes the stored ones by encoding/json's merge
// rules, which only decoding applies).
func (g *decodedGrants) get(signature string, data []byte, session fosite.Session, clientOf func(id string) (fosite.Client, error)) (*fosite.Request, bool, error) {
	dst, ok := session.(*Session)
	if !ok || !dst.empty() {
		return nil, false, nil
	}
	g.mu.Lock()
	e, ok := g.m[signature]
	g.mu.Unlock()
	if !ok || e.data != string(data) {
		return nil, false, nil
	}
	client, err := clientOf(e.clientID)
	if err != nil {
		return nil, true, err
	}
	dst.copyFrom(e.req.Session.(*Session))
	r := e.req
	r.Client = client
	r.RequestedScope, r.GrantedScope = slices.Clone(r.RequestedScope), slices.Clone(r.GrantedScope)
	r.RequestedAudience, r.GrantedAudience = slices.Clone(r.RequestedAudience), slices.Clone(r.GrantedAudience)
	r.Form = cloneValues(r.Form)
	r.Session = dst
	return &r, true, nil
}

// add remembers req, just decoded from data into an empty session.
func (g *decodedGrants) add(signature string, data []byte, req *fosite.Request) {
	src, ok := req.Session.(*Session)
	if !ok || req.Client == nil {
		return
	}
	e := decodedGrant{data: string(data), clientID: req.Client.GetID(), req: *req}
	e.req.Client = nil
	e.req.RequestedScope, e.req.GrantedScope = slices.Clone(req.RequestedScope), slices.Clone(req.GrantedScope)
	e.req.RequestedAudience, e.req.GrantedAudience = slices.Clone(req.RequestedAudience), slices.Clone(req.GrantedAudience)
	e.req.Form = cloneValues(req.Form)
	s := NewSession("")
	s.copyFrom(src)
	e.req.Session = s
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil || len(g.m) >= maxDecodedGrants {
		g.m = make(map[string]decodedGrant)
	}
	g.m[signature] = e
}

// empty reports whether s holds nothing, as NewSession("") makes it.
func (s *Session) empty() bool {
	d := s.DefaultSession
	return s.Role == "" && s.SID == "" && s.GrantedAt.IsZero() && len(s.Resources) == 0 && len(s.Audience) == 0 &&
		len(s.Scope) == 0 && s.JKT == "" && d != nil && d.Username == "" && d.Subject == "" && len(d.ExpiresAt) == 0 &&
		(d.Headers == nil || len(d.Headers.Extra) == 0) && (d.Claims == nil || reflect.ValueOf(*d.Claims).IsZero())
}

// copyFrom makes s a deep copy of src, keeping s's own DefaultSession,
// claims and headers (as decoding into s does).
func (s *Session) copyFrom(src *Session) {
	d := s.DefaultSession
	if d == nil {
		d = &openid.DefaultSession{}
	}
	claims, headers := d.Claims, d.Headers
	if claims == nil {
		claims = &jwt.IDTokenClaims{}
	}
	if headers == nil {
		headers = &jwt.Headers{}
	}
	*s = Session{
		DefaultSession: d, Role: src.Role, SID: src.SID, GrantedAt: src.GrantedAt, Resources: slices.Clone(src.Resources),
		Audience: slices.Clone(src.Audience), Scope: slices.Clone(src.Scope), JKT: src.JKT,
	}
	sd := src.DefaultSession
	if sd == nil {
		sd = &openid.DefaultSession{}
	}
	*d = openid.DefaultSession{Claims: claims, Headers: headers, ExpiresAt: maps.Clone(sd.ExpiresAt), Username: sd.Username, Subject: sd.Subject}
	*claims = jwt.IDTokenClaims{}
	if c := sd.Claims; c != nil {
		*claims = *c
		claims.Audience = slices.Clone(c.Audience)
		claims.AuthenticationMethodsReferences = slices.Clone(c.AuthenticationMethodsReferences)
		// Extra's values are shared: they are decoded JSON (strings,
		// numbers, and the maps and lists of structured claims), which
		// nothing changes in place.
		claims.Extra = maps.Clone(c.Extra)
	}
	headers.Extra = nil
	if sd.Headers != nil {
		headers.Extra = maps.Clone(sd.Headers.Extra)
	}
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
