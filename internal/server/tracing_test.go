package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it keeps every span it is
// sent, with the name of the instrumentation that made it.
type otlpReceiver struct {
	URL   string
	mu    sync.Mutex
	spans []receivedSpan
}

type receivedSpan struct {
	scope string
	span  *tracepb.Span
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rcv := &otlpReceiver{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || err != nil || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		rcv.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					rcv.spans = append(rcv.spans, receivedSpan{scope: ss.GetScope().GetName(), span: sp})
				}
			}
		}
		rcv.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(hs.Close)
	rcv.URL = hs.URL
	return rcv
}

// inTrace returns the spans received of the trace with the given hex ID.
func (rcv *otlpReceiver) inTrace(traceID []byte) []receivedSpan {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var out []receivedSpan
	for _, s := range rcv.spans {
		if string(s.span.TraceId) == string(traceID) {
			out = append(out, s)
		}
	}
	return out
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// TestTracingFollowsARequestThroughPostgresAndRedis sends a token request
// that carries a W3C traceparent to a latch exporting to a real OTLP/HTTP
// receiver: the request's server span continues the caller's trace, is
// named by route and carries the request ID, and the PostgreSQL and Redis
// calls it made are spans of the same trace, without Redis arguments.
func TestTracingFollowsARequestThroughPostgresAndRedis(t *testing.T) {
	rcv := startOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "latch-test")
	s := startServer(t, nil)
	if !s.tracing.Enabled() {
		t.Fatal("OTEL_EXPORTER_OTLP_ENDPOINT is set but tracing is off")
	}
	const traceHex = "4bf92f3577b34da6a3ce929d0e0e4736"
	req := s.formRequest(t, "/oauth2/token", s.rs.auth(url.Values{"grant_type": {"client_credentials"}}))
	req.Header.Set("Traceparent", "00-"+traceHex+"-00f067aa0ba902b7-01")
	r := s.send(t, req)
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.raw)
	}
	if err := s.tracing.ForceFlush(t.Context()); err != nil {
		t.Fatalf("flush spans: %v", err)
	}
	traceID := []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	var server, pg, redis int
	for _, sp := range rcv.inTrace(traceID) {
		switch {
		case sp.span.Kind == tracepb.Span_SPAN_KIND_SERVER:
			server++
			mustEqual(t, "server span name", sp.span.Name, "POST /oauth2/token")
			mustEqual(t, "latch.request_id", attr(sp.span, "latch.request_id"), r.header.Get("X-Request-Id"))
		case sp.scope == "github.com/exaring/otelpgx":
			pg++
		case sp.scope == "github.com/redis/go-redis/extra/redisotel":
			redis++
			if stmt := attr(sp.span, "db.statement") + attr(sp.span, "db.query.text"); stmt != "" {
				t.Errorf("a Redis span carries the command's arguments: %q", stmt)
			}
		}
	}
	if server != 1 || pg == 0 || redis == 0 {
		t.Errorf("trace %s has %d server, %d PostgreSQL and %d Redis spans; want 1 and some of each (%d spans received)", traceHex, server, pg, redis, len(rcv.spans))
	}
}

func TestTracingIsOffWithoutAnEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	s := startServer(t, nil)
	if s.tracing.Enabled() {
		t.Fatal("tracing is on without an OTLP endpoint")
	}
}

func TestTracingRefusesAProtocolItCannotSpeak(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	c := testConfig(t)
	_, err := New(t.Context(), *c, io.Discard, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Fatalf("New = %v, want an error naming OTEL_EXPORTER_OTLP_PROTOCOL", err)
	}
}
