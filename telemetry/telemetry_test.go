package telemetry

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
)

// requestCounts reads latch_http_requests_total from tel's registry, by
// "route method code".
func requestCounts(t *testing.T, tel *Telemetry) map[string]float64 {
	t.Helper()
	families, err := tel.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "latch_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			counts[labels["route"]+" "+labels["method"]+" "+labels["code"]] = m.GetCounter().GetValue()
		}
	}
	return counts
}

// TestRequestMetricsBoundMethods pins that a request counts under its
// route, method and status, and that methods a client invents all count
// as "other": one label value each would grow the metrics without bound.
func TestRequestMetricsBoundMethods(t *testing.T) {
	tel := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := mux.NewRouter()
	r.Use(tel.Middleware)
	r.HandleFunc("/things", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, method := range []string{http.MethodGet, http.MethodGet, "INVENTED1", "INVENTED2"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/things", nil))
	}
	counts := requestCounts(t, tel)
	if got := counts["/things GET 418"]; got != 2 {
		t.Errorf("GET /things counted %v times, want 2 (all: %v)", got, counts)
	}
	if len(counts) != 2 || counts["/things other 418"] != 2 {
		t.Errorf("invented methods are not all counted as other: %v", counts)
	}
}
