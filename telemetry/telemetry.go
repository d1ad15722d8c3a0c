// Package telemetry is what operators watch latch with: Prometheus metrics
// of every HTTP request, request IDs that tie log lines together, an access
// log, latch's own event counters (Metrics), and Go's profiler — the
// metrics and, when asked for (LATCH_PPROF), the profiler on their own
// listener (LATCH_METRICS_LISTEN), never on the public one.
//
// It never records a URL's query string or a request body: queries carry
// reset links, codes and tokens. Requests are labelled by route template.
package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Telemetry holds the metrics registry and the logger it enriches.
type Telemetry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
	// counters and observers cache the metrics of each set of labels
	// (requestLabels and routes: bounded, as routes are latch's own).
	counters  sync.Map
	observers sync.Map
	metrics   *Metrics
	log       *slog.Logger
}

// New returns telemetry that logs requests to log.
func New(log *slog.Logger) *Telemetry {
	t := &Telemetry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "latch_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "latch_http_requests_in_flight", Help: "HTTP requests being served.",
		}),
		metrics: newMetrics(),
		log:     log,
	}
	t.reg.MustRegister(t.requests, t.duration, t.inflight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	t.reg.MustRegister(t.metrics.collectors()...)
	t.metrics.prepare()
	return t
}

// Metrics is what packages report their events to.
func (t *Telemetry) Metrics() *Metrics { return t.metrics }

// Registry is where other packages may register their own metrics.
func (t *Telemetry) Registry() *prometheus.Registry { return t.reg }

type requestIDKey struct{}

// RequestID returns the ID of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if rec, ok := ctx.Value(requestIDKey{}).(*statusRecorder); ok {
		return rec.id
	}
	return ""
}

// Middleware gives each request an ID (X-Request-Id on the response and in
// every log line made with the request's context), counts and times it,
// and writes one access-log line. It runs for every request, so it
// allocates little: the request's context carries the recorder, which
// holds the ID.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK, id: newRequestID()}
		w.Header()["X-Request-Id"] = []string{rec.id}
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, rec))
		span := trace.SpanFromContext(r.Context())
		if span.IsRecording() {
			span.SetAttributes(attribute.String("latch.request_id", rec.id))
		}
		t.inflight.Inc()
		defer t.inflight.Dec()
		next.ServeHTTP(rec, r)
		route := "unmatched"
		if cr := mux.CurrentRoute(r); cr != nil {
			if tpl, err := cr.GetPathTemplate(); err == nil {
				route = tpl
			}
		}
		if span.IsRecording() {
			span.SetName(methodLabel(r.Method) + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
		}
		elapsed := time.Since(start)
		t.counter(route, r.Method, rec.status).Inc()
		t.observer(route).Observe(elapsed.Seconds())
		if t.log.Enabled(r.Context(), slog.LevelInfo) {
			t.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method), slog.String("route", route), slog.Int("status", rec.status),
				slog.Duration("duration", elapsed))
		}
	})
}

// newRequestID returns 16 random hexadecimal digits.
func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	var h [16]byte
	hex.Encode(h[:], b[:])
	return string(h[:])
}

// requestLabels are the labels of latch_http_requests_total.
type requestLabels struct {
	route, method string
	status        int
}

// counter is the request counter of the labels, looked up once per set of
// labels rather than hashed at every request.
func (t *Telemetry) counter(route, method string, status int) prometheus.Counter {
	key := requestLabels{route: route, method: methodLabel(method), status: status}
	if c, ok := t.counters.Load(key); ok {
		return c.(prometheus.Counter)
	}
	c, _ := t.counters.LoadOrStore(key, t.requests.WithLabelValues(key.route, key.method, strconv.Itoa(key.status)))
	return c.(prometheus.Counter)
}

// observer is the latency histogram of a route.
func (t *Telemetry) observer(route string) prometheus.Observer {
	if o, ok := t.observers.Load(route); ok {
		return o.(prometheus.Observer)
	}
	o, _ := t.observers.LoadOrStore(route, t.duration.WithLabelValues(route))
	return o.(prometheus.Observer)
}

// methodLabel is a request's method as a metric label: the standard
// methods by name and any other as "other". The client chooses the method,
// and a label value per invented method would grow the metrics (and this
// package's caches) without bound.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// statusRecorder remembers the status code a handler wrote, and the
// request's ID.
type statusRecorder struct {
	http.ResponseWriter
	id     string
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Handler serves /metrics, and with profiling the profiler under
// /debug/pprof/, for the metrics listener only. The profiler is off unless
// asked for: a CPU profile or trace costs the server while it runs, and the
// command line and heap it shows are not for everyone who may scrape.
func (t *Telemetry) Handler(profiling bool) http.Handler {
	m := http.NewServeMux()
	m.Handle("/metrics", promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{Registry: t.reg}))
	if !profiling {
		return m
	}
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m
}

// LogHandler wraps a slog handler so that every record made with a
// request's context carries its request_id.
func LogHandler(h slog.Handler) slog.Handler { return &logHandler{h} }

type logHandler struct{ slog.Handler }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{h.Handler.WithAttrs(attrs)}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{h.Handler.WithGroup(name)}
}
