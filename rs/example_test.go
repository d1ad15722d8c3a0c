package rs_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/latch-idp/latch/rs"
)

// An API with a route for any signed-in user, one that needs a scope, one
// for administrators and one for machine clients, and its metadata
// document (RFC 9728) for clients that discover how to get a token.
func Example() {
	v, err := rs.New(context.Background(), rs.Config{
		Issuer:   "https://id.example.com",  // latch's LATCH_ISSUER
		Audience: "https://api.example.com", // this API, as registered: latch resources create
		Scopes:   []string{"api:read", "api:write"},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+v.MetadataPath(), v.MetadataHandler())
	mux.Handle("GET /me", v.RequireUser(http.HandlerFunc(me)))
	mux.Handle("POST /notes", v.RequireUser(v.RequireScope("api:write")(http.HandlerFunc(me))))
	mux.Handle("DELETE /notes/{id}", v.RequireAdmin(http.HandlerFunc(me)))
	mux.Handle("POST /jobs", v.RequireClient(v.RequireScope("api:write")(http.HandlerFunc(me))))
	log.Fatal(http.ListenAndServe(":8082", mux))
}

func me(w http.ResponseWriter, r *http.Request) {
	c, _ := rs.ClaimsFrom(r.Context())
	fmt.Fprintf(w, "hello %s (client %s, scopes %v)\n", c.Subject, c.ClientID, c.Scopes)
}

// Strict mode: tokens are also introspected, so a revoked token stops
// working within CacheTTL instead of at its expiry.
func ExampleIntrospection() {
	v, err := rs.New(context.Background(), rs.Config{
		Issuer:   "https://id.example.com",
		Audience: "https://api.example.com",
		Introspection: &rs.Introspection{
			ClientID:     "example-api", // a confidential client of this API's own
			ClientSecret: "…",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = v
}

// Verify checks a token outside HTTP, for example in a WebSocket
// handshake or a queue consumer.
func ExampleVerifier_Verify() {
	var v *rs.Verifier // from rs.New
	claims, err := v.Verify(context.Background(), "eyJ…")
	if err != nil {
		log.Print(err) // errors.Is(err, rs.ErrInvalidToken)
		return
	}
	fmt.Println(claims.Subject, claims.HasScope("api:read"))
}
