// Command demo-api runs the demo API (package api) on loopback.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"net/url"
	"strings"

	"github.com/latch-idp/latch/examples/api"
	"github.com/latch-idp/latch/examples/internal/serve"
)

func main() {
	var cfg api.Config
	flag.StringVar(&cfg.Issuer, "issuer", "http://localhost:8080", "latch's issuer URL")
	flag.StringVar(&cfg.Resource, "resource", "http://localhost:8082", "this API's resource identifier, registered with latch")
	origins := flag.String("origins", "http://localhost:8083", "comma-separated browser origins allowed to call the API (the SPA's)")
	flag.Parse()
	cfg.Origins = strings.Split(*origins, ",")
	u, err := url.Parse(cfg.Resource)
	if err != nil || u.Port() == "" {
		log.Fatalf("-resource %q: want a URL with a port, e.g. http://localhost:8082", cfg.Resource)
	}
	// Loopback only: this is a demo.
	addr := "127.0.0.1:" + u.Port()
	err = serve.Run("demo-api", addr, func(ctx context.Context) (http.Handler, error) {
		return api.NewHandler(ctx, cfg)
	})
	if err != nil {
		log.Fatal(err)
	}
}
