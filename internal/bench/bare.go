package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	goredis "github.com/redis/go-redis/v9"
)

// bare is `bench bare`: a bare net/http server that does the least work
// each measured endpoint must do, with the same libraries latch uses
// (net/http, go-redis, go-jose), for `make bench` to measure with the same
// load generator, beside latch: what an endpoint costs on this machine
// before any of latch's or fosite's own work.
//
//   - JWKS and discovery: fixed bytes, latch's own documents (-like; the
//     discovery document names the bare server's endpoints), with two
//     headers.
//   - client_credentials: read the form, check the client's secret (an
//     HMAC, as latch does), sign an ES256 JWT with the claims latch puts in
//     one, store a grant record of the size latch stores in one Redis
//     transaction with its grant index, and answer the token response.
//   - introspection: read the form, check the client's secret, read the
//     token's grant record from Redis, decode it, answer.
//
// It prints its address on its first line and serves until killed.
func bare(args []string) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	redisURL := fs.String("redis", "", "Redis URL (required)")
	clientID := fs.String("client-id", "", "the client ID to accept")
	clientSecret := fs.String("client-secret", "", "its secret")
	like := fs.String("like", "", "latch's issuer URL: serve its JWKS and discovery document (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts, err := goredis.ParseURL(*redisURL)
	if err != nil {
		return err
	}
	opts.Protocol = 2
	rdb := goredis.NewClient(opts)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "bare"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	f := &bareServer{rdb: rdb, signer: signer, issuer: "http://" + ln.Addr().String(), clientID: *clientID}
	mac := hmac.New(sha256.New, f.macKey[:])
	mac.Write([]byte(*clientSecret))
	f.secretMAC = mac.Sum(nil)
	if err := f.copyDocuments(strings.TrimSuffix(*like, "/")); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.static(f.discovery))
	mux.HandleFunc("GET /jwks", f.static(f.jwks))
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("POST /introspect", f.introspect)
	fmt.Println(f.issuer)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

type bareServer struct {
	rdb       *goredis.Client
	signer    jose.Signer
	issuer    string
	clientID  string
	macKey    [32]byte
	secretMAC []byte
	jwks      []byte
	discovery []byte
}

// bareGrant is a stored grant of the size and shape latch stores.
type bareGrant struct {
	ID          string            `json:"id"`
	RequestedAt time.Time         `json:"requested_at"`
	ClientID    string            `json:"client_id"`
	Scope       []string          `json:"granted_scope"`
	Audience    []string          `json:"granted_audience"`
	Form        map[string]string `json:"form"`
	Subject     string            `json:"subject"`
	ExpiresAt   time.Time         `json:"expires_at"`
	Claims      map[string]any    `json:"claims"`
}

// copyDocuments fetches latch's discovery document and JWKS, to serve the
// same bytes: the discovery document with the bare server's endpoints,
// for the bench to find them.
func (f *bareServer) copyDocuments(issuer string) error {
	disc, err := fetch(issuer + "/.well-known/openid-configuration")
	if err != nil {
		return err
	}
	var doc struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(disc, &doc); err != nil {
		return fmt.Errorf("%s: %w", issuer, err)
	}
	if f.jwks, err = fetch(doc.JWKS); err != nil {
		return err
	}
	// Same length, so that the bytes served weigh the same.
	d := string(disc)
	for from, to := range map[string]string{
		doc.JWKS: f.issuer + "/jwks", issuer + "/oauth2/token": f.issuer + "/token", issuer + "/oauth2/introspect": f.issuer + "/introspect",
	} {
		d = strings.Replace(d, `"`+from+`"`, `"`+to+`"`+strings.Repeat(" ", max(0, len(from)-len(to))), 1)
	}
	f.discovery = []byte(d)
	return nil
}

func fetch(u string) ([]byte, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return b, err
}

func (f *bareServer) static(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(body)
	}
}

func (f *bareServer) authenticate(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok || id != f.clientID {
		return false
	}
	mac := hmac.New(sha256.New, f.macKey[:])
	mac.Write([]byte(secret))
	return hmac.Equal(mac.Sum(nil), f.secretMAC)
}

func (f *bareServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" || !f.authenticate(r) {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	now := time.Now()
	jti := rand.Text()
	claims := map[string]any{"iss": f.issuer, "sub": f.clientID, "aud": []string{f.issuer}, "client_id": f.clientID,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(), "jti": jti, "scope": ""}
	payload, _ := json.Marshal(claims)
	obj, err := f.signer.Sign(payload)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	tok, _ := obj.CompactSerialize()
	g := bareGrant{ID: jti, RequestedAt: now, ClientID: f.clientID, Scope: []string{}, Audience: []string{f.issuer},
		Form: map[string]string{"grant_type": "client_credentials"}, Subject: f.clientID, ExpiresAt: now.Add(time.Hour),
		Claims: map[string]any{"jti": "", "iss": "", "sub": f.clientID, "exp": time.Time{}, "iat": time.Time{}, "rat": time.Time{}, "auth_time": time.Time{}}}
	data, _ := json.Marshal(g)
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	pipe := f.rdb.TxPipeline()
	pipe.Set(r.Context(), "bare:at:"+sig, data, time.Hour)
	pipe.SAdd(r.Context(), "bare:grant:"+jti, sig)
	pipe.Expire(r.Context(), "bare:grant:"+jti, time.Hour)
	if _, err := pipe.Exec(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 3599, "scope": ""})
}

func (f *bareServer) introspect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !f.authenticate(r) {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	tok := r.PostForm.Get("token")
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	data, err := f.rdb.Get(r.Context(), "bare:at:"+sig).Bytes()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	if errors.Is(err, goredis.Nil) {
		w.Write([]byte(`{"active":false}`))
		return
	}
	var g bareGrant
	if err != nil || json.Unmarshal(data, &g) != nil {
		http.Error(w, "store", http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"active": true, "client_id": g.ClientID, "sub": g.Subject, "scope": strings.Join(g.Scope, " "),
		"aud": g.Audience, "iss": f.issuer, "exp": g.ExpiresAt.Unix(), "iat": g.RequestedAt.Unix(), "token_type": "Bearer"})
}
