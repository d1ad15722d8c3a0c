// Package session keeps browser sessions in Redis and their cookie in the
// browser. The cookie holds a random token; Redis keys hold only its SHA-256,
// so a copy of Redis does not let anyone log in. A session's public ID (its
// sid claim, and what the account page lists) is derived from that hash and
// cannot be turned back into a cookie.
//
// The package never logs a cookie value.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/web"
)

// ErrNoSession is returned when the request carries no live session.
var ErrNoSession = errors.New("session: none")

// Session is one logged-in browser.
type Session struct {
	ID        string    `json:"id"` // public ID, the sid claim
	UserID    string    `json:"user_id"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
}

// Options configure the store.
type Options struct {
	Idle     time.Duration // a session unused this long ends
	Absolute time.Duration // a session ends this long after login regardless
	// Secure marks cookies Secure and gives them the __Host- prefix. Only a
	// plain-http development issuer turns it off.
	Secure bool
	// Ended, when set, is told of every session that ends through the
	// store (signing out, ending one, ending all of a user's) that had
	// clients (Join), after it has ended. It must not block for long.
	Ended func(ctx context.Context, ended []Ended)
}

// Ended is a session of UserID that ended, with the clients that took
// part in it (each with the sid it knows the session by).
type Ended struct {
	UserID  string
	Clients []Participant
}

// Participant is a client that took part in a session, and the sid its
// ID tokens carry: the session's, or that of an earlier session of the
// same user in the same browser, which a new sign-in replaced.
type Participant struct{ ClientID, SID string }

func (p Participant) member() string { return p.ClientID + " " + p.SID }

func participants(members []string) []Participant {
	out := make([]Participant, 0, len(members))
	for _, m := range members {
		if id, sid, ok := strings.Cut(m, " "); ok {
			out = append(out, Participant{ClientID: id, SID: sid})
		}
	}
	return out
}

// Store manages sessions.
type Store struct {
	rdb  redis.UniversalClient
	opts Options
}

// NewStore returns a store.
func NewStore(rdb redis.UniversalClient, opts Options) *Store {
	if opts.Idle <= 0 {
		opts.Idle = 24 * time.Hour
	}
	if opts.Absolute <= 0 {
		opts.Absolute = 14 * 24 * time.Hour
	}
	return &Store{rdb: rdb, opts: opts}
}

// CookieName is the session cookie's name.
func (s *Store) CookieName() string {
	if s.opts.Secure {
		return "__Host-latch_session"
	}
	return "latch_session"
}

func sessionKey(id string) string  { return "latch:session:" + id }
func clientsKey(id string) string  { return "latch:sessionclients:" + id }
func userKey(userID string) string { return "latch:usersessions:" + userID }

// publicID derives the public ID from the cookie token.
func publicID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:16])
}

// Create starts a session for userID and sets its cookie. Any session the
// request already carries is ended first, so the ID changes at every login.
// When it is the same user's (signing in again, re-authenticating), its
// clients carry over to the new session without being told it ended.
func (s *Store) Create(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string, amr []string) (*Session, error) {
	carried := ""
	if c, err := r.Cookie(s.CookieName()); err == nil && c.Value != "" {
		old, err := s.Lookup(ctx, publicID(c.Value))
		switch {
		case err == nil && old.UserID == userID:
			carried = old.ID
		case err != nil && !errors.Is(err, ErrNoSession):
			return nil, err
		default:
			if err := s.Delete(ctx, publicID(c.Value)); err != nil {
				return nil, err
			}
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := time.Now().UTC()
	sess := &Session{
		ID: publicID(token), UserID: userID, AuthTime: now, AMR: amr,
		CreatedAt: now, LastSeen: now, IP: web.ClientIP(r), UserAgent: web.UserAgent(r),
	}
	if err := s.write(ctx, sess); err != nil {
		return nil, err
	}
	pipe := s.rdb.TxPipeline()
	pipe.SAdd(ctx, userKey(userID), sess.ID)
	pipe.Expire(ctx, userKey(userID), s.opts.Absolute)
	if carried != "" {
		pipe.SUnionStore(ctx, clientsKey(sess.ID), clientsKey(carried))
		pipe.Expire(ctx, clientsKey(sess.ID), s.opts.Absolute)
		pipe.Del(ctx, sessionKey(carried), clientsKey(carried))
		pipe.SRem(ctx, userKey(userID), carried)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("session: index: %w", err)
	}
	http.SetCookie(w, s.cookie(token, int(s.opts.Absolute.Seconds())))
	return sess, nil
}

// write stores a new session; touch refreshes one that exists.
func (s *Store) write(ctx context.Context, sess *Session) error {
	return s.store(ctx, sess, false)
}

// touch rewrites a session read a moment ago, only while it still exists
// (SET XX): a session deleted in between (sign-out, revocation) is not
// brought back.
func (s *Store) touch(ctx context.Context, sess *Session) error {
	return s.store(ctx, sess, true)
}

func (s *Store) store(ctx context.Context, sess *Session, mustExist bool) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	ttl := s.opts.Idle
	if left := time.Until(sess.CreatedAt.Add(s.opts.Absolute)); left < ttl {
		ttl = left
	}
	if ttl <= 0 {
		return ErrNoSession
	}
	if !mustExist {
		return s.rdb.Set(ctx, sessionKey(sess.ID), b, ttl).Err()
	}
	ok, err := s.rdb.SetXX(ctx, sessionKey(sess.ID), b, ttl).Result()
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoSession
	}
	return nil
}

func (s *Store) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: s.CookieName(), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.opts.Secure, SameSite: http.SameSiteLaxMode,
	}
}

// Get returns the request's live session and extends its idle lifetime.
func (s *Store) Get(ctx context.Context, r *http.Request) (*Session, error) {
	c, err := r.Cookie(s.CookieName())
	if err != nil || c.Value == "" {
		return nil, ErrNoSession
	}
	sess, err := s.Lookup(ctx, publicID(c.Value))
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	if now.Sub(sess.LastSeen) > time.Minute {
		sess.LastSeen = now
		if err := s.touch(ctx, sess); err != nil {
			return nil, err
		}
	}
	return sess, nil
}

// Lookup returns a live session by its public ID.
func (s *Store) Lookup(ctx context.Context, id string) (*Session, error) {
	b, err := s.rdb.Get(ctx, sessionKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoSession
	} else if err != nil {
		return nil, err
	}
	var sess Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, fmt.Errorf("session: decode: %w", err)
	}
	if time.Since(sess.CreatedAt) > s.opts.Absolute {
		return nil, ErrNoSession
	}
	return &sess, nil
}

// End ends the request's session, if any, and clears the cookie.
func (s *Store) End(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, s.cookie("", -1))
	c, err := r.Cookie(s.CookieName())
	if err != nil || c.Value == "" {
		return nil
	}
	return s.Delete(ctx, publicID(c.Value))
}

// Join records that clientID took part in the session id (it was issued
// an authorization, and ID tokens with the sid id, in it), for
// Options.Ended.
func (s *Store) Join(ctx context.Context, id, clientID string) error {
	pipe := s.rdb.TxPipeline()
	pipe.SAdd(ctx, clientsKey(id), Participant{ClientID: clientID, SID: id}.member())
	pipe.Expire(ctx, clientsKey(id), s.opts.Absolute)
	_, err := pipe.Exec(ctx)
	return err
}

// Clients lists the IDs of the clients that took part in the session id
// (Join), each once.
func (s *Store) Clients(ctx context.Context, id string) ([]string, error) {
	members, err := s.rdb.SMembers(ctx, clientsKey(id)).Result()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, p := range participants(members) {
		if !slices.Contains(ids, p.ClientID) {
			ids = append(ids, p.ClientID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Delete ends a session by public ID.
func (s *Store) Delete(ctx context.Context, id string) error {
	sess, err := s.Lookup(ctx, id)
	if errors.Is(err, ErrNoSession) {
		return nil
	} else if err != nil {
		return err
	}
	pipe := s.rdb.TxPipeline()
	clients := pipe.SMembers(ctx, clientsKey(id))
	del := pipe.Del(ctx, sessionKey(id))
	pipe.Del(ctx, clientsKey(id))
	pipe.SRem(ctx, userKey(sess.UserID), id)
	if _, err = pipe.Exec(ctx); err != nil {
		return err
	}
	// Of two racing deletes, the one that removed the session tells.
	if del.Val() == 1 {
		s.ended(ctx, []Ended{{UserID: sess.UserID, Clients: participants(clients.Val())}})
	}
	return nil
}

// ended tells Options.Ended of the sessions in e that had clients.
func (s *Store) ended(ctx context.Context, e []Ended) {
	if s.opts.Ended == nil {
		return
	}
	e = slices.DeleteFunc(e, func(x Ended) bool { return len(x.Clients) == 0 })
	if len(e) > 0 {
		s.opts.Ended(ctx, e)
	}
}

// List returns the user's live sessions.
func (s *Store) List(ctx context.Context, userID string) ([]*Session, error) {
	ids, err := s.rdb.SMembers(ctx, userKey(userID)).Result()
	if err != nil {
		return nil, err
	}
	var out []*Session
	for _, id := range ids {
		sess, err := s.Lookup(ctx, id)
		if errors.Is(err, ErrNoSession) {
			s.rdb.SRem(ctx, userKey(userID), id)
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, nil
}

// DeleteUser ends every session of the user.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	ids, err := s.rdb.SMembers(ctx, userKey(userID)).Result()
	if err != nil {
		return err
	}
	pipe := s.rdb.TxPipeline()
	ended := make([]Ended, len(ids))
	members := make([]*redis.StringSliceCmd, len(ids))
	dels := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		ended[i] = Ended{UserID: userID}
		members[i] = pipe.SMembers(ctx, clientsKey(id))
		dels[i] = pipe.Del(ctx, sessionKey(id), clientsKey(id))
	}
	pipe.Del(ctx, userKey(userID))
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	for i := range ended {
		if dels[i].Val() > 0 {
			ended[i].Clients = participants(members[i].Val())
		}
	}
	s.ended(ctx, ended)
	return nil
}
