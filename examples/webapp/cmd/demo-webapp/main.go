// Command demo-webapp runs the demo web app (package webapp) on loopback.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"net/url"
	"os"

	"github.com/latch-idp/latch/examples/internal/serve"
	"github.com/latch-idp/latch/examples/webapp"
)

func main() {
	var cfg webapp.Config
	flag.StringVar(&cfg.Issuer, "issuer", "http://localhost:8080", "latch's issuer URL")
	flag.StringVar(&cfg.URL, "url", "http://localhost:8084", "where the app is served; its redirect URI is URL/callback")
	flag.StringVar(&cfg.ClientID, "client-id", "", "the app's client ID; empty: register at latch's registration endpoint")
	flag.Parse()
	// A secret never goes on the command line, where ps shows it.
	cfg.ClientSecret = os.Getenv("DEMO_WEBAPP_CLIENT_SECRET")
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Port() == "" {
		log.Fatalf("-url %q: want a URL with a port, e.g. http://localhost:8084", cfg.URL)
	}
	// Loopback only: this is a demo.
	err = serve.Run("demo-webapp", "127.0.0.1:"+u.Port(), func(ctx context.Context) (http.Handler, error) {
		return webapp.NewHandler(ctx, cfg)
	})
	if err != nil {
		log.Fatal(err)
	}
}
