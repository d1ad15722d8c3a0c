package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gorilla/mux"

	"github.com/latch-idp/latch/account"
	"github.com/latch-idp/latch/web"
)

// mounter is what each HTTP-facing package's Handler provides: it
// registers its own routes.
type mounter interface {
	Mount(r *mux.Router)
}

// routes is latch's whole HTTP surface: the static assets, each package's
// routes in turn, then the few that belong to no package (health, the root
// redirect, and the answers to unknown paths and methods), behind the
// telemetry and panic-recovery middleware.
func (s *Server) routes(site *web.Site, handlers ...mounter) http.Handler {
	// Routes match the encoded path, so that a path segment may hold an
	// encoded slash (the admin API addresses resources by identifier).
	r := mux.NewRouter().UseEncodedPath()
	r.Use(s.tel.Middleware)
	site.MountAssets(r)
	for _, h := range handlers {
		h.Mount(r)
	}
	r.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/", http.RedirectHandler(account.Path, http.StatusFound)).Methods(http.MethodGet)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		site.SetSecurityHeaders(w.Header())
		site.Error(w, r, http.StatusNotFound, "error.not_found")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		io.WriteString(w, `{"error":"invalid_request","error_description":"method not allowed"}`)
	})
	proxies, _ := web.ParseProxies(s.cfg.TrustedProxies) // Config.Validate refused bad ones
	prefix := s.cfg.IPv6Prefix
	if prefix == 0 {
		prefix = web.DefaultIPv6Prefix
	}
	return s.tracing.Handler(proxies.Middleware(web.WithIPv6Prefix(recoverer(r, s.log), prefix)))
}

// readyz answers whether latch can reach its stores; a load balancer takes
// a replica out of rotation while it cannot. Both are asked at once, and
// a store that does not answer within a second counts as unreachable.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	pg, rd := make(chan error, 1), make(chan error, 1)
	go func() { pg <- s.store.Ping(ctx) }()
	go func() { rd <- s.rdb.Ping(ctx).Err() }()
	// In --dev the stores are in-process: name them for what they are.
	storeName, redisName := "postgres", "redis"
	if s.cfg.Dev {
		storeName, redisName = "memory", "redis_in_process"
	}
	status := map[string]string{storeName: "ok", redisName: "ok"}
	code := http.StatusOK
	if err := <-pg; err != nil {
		status[storeName], code = "unreachable", http.StatusServiceUnavailable
	}
	if err := <-rd; err != nil {
		status[redisName], code = "unreachable", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(status)
}

// recoverer turns a panic into a plain 500 without a stack trace on the
// wire; the trace goes to the log.
func recoverer(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic serving request", "panic", fmt.Sprint(v), "path", r.URL.Path, "stack", string(debug.Stack()))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"error":"server_error"}`)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
