// Command demo-spa serves the demo single-page app (package spa) on
// loopback.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/latch-idp/latch/examples/internal/serve"
	"github.com/latch-idp/latch/examples/spa"
)

func main() {
	var cfg spa.Config
	flag.StringVar(&cfg.Issuer, "issuer", "http://localhost:8080", "latch's issuer URL")
	flag.StringVar(&cfg.ClientID, "client-id", "demo-spa", "the app's public client, with redirect URI ORIGIN/callback")
	flag.StringVar(&cfg.API, "api", "http://localhost:8082", "the demo API's base URL")
	listen := flag.String("listen", "127.0.0.1:8083", "address to serve on; the app's origin is http://localhost:PORT")
	flag.Parse()
	h, err := spa.NewHandler(cfg)
	if err != nil {
		log.Fatal(err)
	}
	if err := serve.Run("demo-spa", *listen, func(context.Context) (http.Handler, error) { return h, nil }); err != nil {
		log.Fatal(err)
	}
}
