package provider

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/mohae/deepcopy"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/latch-idp/latch/storage"
)

// Session is latch's fosite session, persisted with every grant. It carries
// the ID token claims (openid.DefaultSession) and what latch's access tokens
// need beyond them.
type Session struct {
	*openid.DefaultSession `json:"oidc"`
	// Role is the user's role when the grant was made; empty for client tokens.
	Role string `json:"role,omitempty"`
	// SID is the browser session the grant came from.
	SID string `json:"sid,omitempty"`
	// GrantedAt is when the authorization was first granted; it bounds the
	// absolute lifetime of the refresh token family.
	GrantedAt time.Time `json:"granted_at"`
	// Resources are the API resources of the grant (RFC 8707).
	Resources []string `json:"resources,omitempty"`
	// Audience and Scope describe the access token last issued from this
	// session: the resources it is for (some or all of Resources) and the
	// scopes it carries (theirs and OpenID Connect's).
	Audience []string `json:"audience,omitempty"`
	Scope    []string `json:"scope,omitempty"`
	// JKT is the thumbprint of the DPoP key (RFC 9449) the grant is bound
	// to: at first the dpop_jkt of the authorization request, then the key
	// of the access token last issued (its cnf.jkt); empty for bearer
	// tokens.
	JKT string `json:"jkt,omitempty"`
}

var (
	_ fosite.Session = (*Session)(nil)
	_ openid.Session = (*Session)(nil)
)

// NewSession returns an empty session for subject (may be empty).
func NewSession(subject string) *Session {
	return &Session{DefaultSession: &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Subject: subject},
		Headers: &jwt.Headers{},
		Subject: subject,
	}}
}

// Clone returns a deep copy.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	return deepcopy.Copy(s).(*Session)
}

// A session is stored with every grant: written at every token request,
// read at every introspection. Its JSON form leaves out what is empty or
// zero, which fosite's types (whose JSON tags have no omitempty) would
// write out in full: for a client_credentials grant that halves the bytes
// to write and, more to the point, to decode. Decoding reads the full form
// too (grants stored before), and always leaves the session with claims
// and headers, as NewSession does.

// storedOIDC is the JSON form of a session's openid.DefaultSession.
type storedOIDC struct {
	Claims    *storedClaims                  `json:"id_token_claims,omitempty"`
	Headers   *jwt.Headers                   `json:"headers,omitempty"`
	ExpiresAt map[fosite.TokenType]time.Time `json:"expires_at,omitempty"`
	Username  string                         `json:"username,omitempty"`
	Subject   string                         `json:"subject,omitempty"`
}

// storedClaims is jwt.IDTokenClaims with its empty fields left out: the
// same fields in the same order, so that one converts to the other.
type storedClaims struct {
	JTI                                 string         `json:"jti,omitempty"`
	Issuer                              string         `json:"iss,omitempty"`
	Subject                             string         `json:"sub,omitempty"`
	Audience                            []string       `json:"aud,omitempty"`
	Nonce                               string         `json:"nonce,omitempty"`
	ExpiresAt                           time.Time      `json:"exp,omitzero"`
	IssuedAt                            time.Time      `json:"iat,omitzero"`
	RequestedAt                         time.Time      `json:"rat,omitzero"`
	AuthTime                            time.Time      `json:"auth_time,omitzero"`
	AccessTokenHash                     string         `json:"at_hash,omitempty"`
	AuthenticationContextClassReference string         `json:"acr,omitempty"`
	AuthenticationMethodsReferences     []string       `json:"amr,omitempty"`
	CodeHash                            string         `json:"c_hash,omitempty"`
	Extra                               map[string]any `json:"ext,omitempty"`
}

// sessionJSON is a Session's JSON form: its own fields, and the
// DefaultSession as a storedOIDC (the shallower "oidc" field hides the
// embedded one).
type sessionJSON struct {
	*sessionFields
	OIDC *storedOIDC `json:"oidc"`
}

// sessionFields is Session without its methods.
type sessionFields Session

// storedSession returns s's JSON form, to be encoded.
func storedSession(s *Session) sessionJSON {
	v := sessionJSON{sessionFields: (*sessionFields)(s)}
	if d := s.DefaultSession; d != nil {
		v.OIDC = &storedOIDC{ExpiresAt: d.ExpiresAt, Username: d.Username, Subject: d.Subject}
		if d.Claims != nil {
			c := storedClaims(*d.Claims)
			v.OIDC.Claims = &c
		}
		if d.Headers != nil && len(d.Headers.Extra) > 0 {
			v.OIDC.Headers = d.Headers
		}
	}
	return v
}

// decodeInto prepares s for decoding a stored session in place, as
// encoding/json decodes into a session: the maps (expiries, extra claims
// and headers) keep their entries and take the stored ones, every other
// field takes the stored value. The compact form leaves out empty fields,
// so those are cleared first. fosite relies on the merge: at the token
// endpoint it sets the new tokens' expiries on the request's session and
// then reads the code's or refresh token's session into it. finish
// completes the decoding.
func decodeInto(s *Session) *storedOIDC {
	if s.DefaultSession == nil {
		s.DefaultSession = &openid.DefaultSession{}
	}
	d := s.DefaultSession
	if d.Claims == nil {
		d.Claims = &jwt.IDTokenClaims{}
	}
	if d.Headers == nil {
		d.Headers = &jwt.Headers{}
	}
	*d.Claims = jwt.IDTokenClaims{Extra: d.Claims.Extra}
	return &storedOIDC{Claims: (*storedClaims)(d.Claims), Headers: d.Headers, ExpiresAt: d.ExpiresAt}
}

// finish sets what o decoded that was not decoded in place.
func (o *storedOIDC) finish(s *Session) {
	if o == nil {
		return // "oidc": null
	}
	s.ExpiresAt, s.Username, s.Subject = o.ExpiresAt, o.Username, o.Subject
}

// storedRequest is the JSON form of a fosite request.
type storedRequest struct {
	ID                string     `json:"id"`
	RequestedAt       time.Time  `json:"requested_at"`
	ClientID          string     `json:"client_id"`
	RequestedScope    []string   `json:"requested_scope"`
	GrantedScope      []string   `json:"granted_scope"`
	RequestedAudience []string   `json:"requested_audience"`
	GrantedAudience   []string   `json:"granted_audience"`
	Form              url.Values `json:"form"`
	// Session is the fosite.Session, encoded and decoded in the same pass
	// as the rest: decoding fills the session the field holds.
	Session any `json:"session"`
}

// MarshalRequest serializes a fosite request with its session.
func MarshalRequest(r fosite.Requester) ([]byte, error) {
	var session any = r.GetSession()
	if s, ok := session.(*Session); ok && s != nil {
		session = storedSession(s)
	}
	data, err := json.Marshal(storedRequest{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		ClientID:          r.GetClient().GetID(),
		RequestedScope:    r.GetRequestedScopes(),
		GrantedScope:      r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
		Form:              r.GetRequestForm(),
		Session:           session,
	})
	if err != nil {
		return nil, fmt.Errorf("provider: encode request: %w", err)
	}
	return data, nil
}

// RefreshFacts reads the subject and the refresh-token expiry of req's
// session, which may be nil (fosite's contract allows it), for the refresh
// token stores.
func RefreshFacts(req fosite.Requester) (subject string, expires time.Time) {
	switch sess := req.GetSession().(type) {
	case nil:
		return "", time.Time{}
	case *Session:
		if sess == nil || sess.DefaultSession == nil {
			return "", time.Time{}
		}
	}
	sess := req.GetSession()
	return sess.GetSubject(), sess.GetExpiresAt(fosite.RefreshToken).UTC()
}

// RequestClientID returns the client ID of a serialized request.
func RequestClientID(data []byte) (string, error) {
	var sr struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(data, &sr); err != nil {
		return "", fmt.Errorf("provider: decode request: %w", err)
	}
	return sr.ClientID, nil
}

// UnmarshalRequest rebuilds a fosite request. The session is decoded into
// session, or into a new *Session when session is nil.
func UnmarshalRequest(data []byte, session fosite.Session, client fosite.Client) (*fosite.Request, error) {
	return unmarshalRequest(data, session, func(string) (fosite.Client, error) { return client, nil })
}

// unmarshalRequest is UnmarshalRequest for a request whose client is
// looked up by the client ID it stores, read in the same pass (decoding a
// grant is a good part of an introspection's cost; reading the ID first
// would be a second pass).
func unmarshalRequest(data []byte, session fosite.Session, clientOf func(id string) (fosite.Client, error)) (*fosite.Request, error) {
	if session == nil {
		session = NewSession("")
	}
	// A session that is a non-nil pointer is decoded into in place (a
	// JSON null leaves it as it is).
	sr := storedRequest{Session: session}
	own, _ := session.(*Session)
	var stored sessionJSON
	if own != nil {
		stored = sessionJSON{sessionFields: (*sessionFields)(own), OIDC: decodeInto(own)}
		sr.Session = &stored
	}
	if err := json.Unmarshal(data, &sr); err != nil {
		return nil, fmt.Errorf("provider: decode request: %w", err)
	}
	if own != nil {
		stored.OIDC.finish(own)
	}
	client, err := clientOf(sr.ClientID)
	if err != nil {
		return nil, err
	}
	if sr.Form == nil {
		sr.Form = url.Values{}
	}
	return &fosite.Request{
		ID:                sr.ID,
		RequestedAt:       sr.RequestedAt,
		Client:            client,
		RequestedScope:    sr.RequestedScope,
		GrantedScope:      sr.GrantedScope,
		RequestedAudience: sr.RequestedAudience,
		GrantedAudience:   sr.GrantedAudience,
		Form:              sr.Form,
		Session:           session,
	}, nil
}

// FositeClient adapts a Client to fosite.Client, for requests rebuilt from
// storage. The hashed secret is the keyed hash that provider's hasher
// compares against. provider extends it with the OpenID Connect methods.
type FositeClient struct{ storage.Client }

var _ fosite.Client = FositeClient{}

func (c FositeClient) GetID() string                      { return c.ID }
func (c FositeClient) GetHashedSecret() []byte            { return c.SecretHash }
func (c FositeClient) GetRedirectURIs() []string          { return c.RedirectURIs }
func (c FositeClient) GetGrantTypes() fosite.Arguments    { return c.GrantTypes }
func (c FositeClient) GetResponseTypes() fosite.Arguments { return c.ResponseTypes }
func (c FositeClient) GetScopes() fosite.Arguments        { return c.Scopes }
func (c FositeClient) IsPublic() bool                     { return c.Public() }

// GetAudience lists the audiences the client may request: its own ID.
func (c FositeClient) GetAudience() fosite.Arguments { return fosite.Arguments{c.ID} }
