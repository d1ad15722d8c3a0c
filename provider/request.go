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
	data, err := json.Marshal(storedRequest{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		ClientID:          r.GetClient().GetID(),
		RequestedScope:    r.GetRequestedScopes(),
		GrantedScope:      r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
		Form:              r.GetRequestForm(),
		Session:           r.GetSession(),
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
	if err := json.Unmarshal(data, &sr); err != nil {
		return nil, fmt.Errorf("provider: decode request: %w", err)
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
