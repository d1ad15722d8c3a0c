package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Tracing sends OpenTelemetry traces over OTLP/HTTP when the standard
// variables ask for it (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), and is off otherwise. The exporter,
// sampler and batching read the other standard OTEL_* variables
// themselves; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the
// service (latch by default).
//
// The provider is handed to each instrumented part (HTTP, PostgreSQL,
// Redis) rather than installed globally, so two servers in one process
// (tests) never share one.
type Tracing struct {
	sdk *sdktrace.TracerProvider // nil: off
	tp  trace.TracerProvider
}

// NewTracing reads the OTEL_* variables. A setting it cannot honour (a
// protocol other than http/protobuf) is an error, so that an operator who
// asked for traces is told at start rather than left without them.
func NewTracing(ctx context.Context) (*Tracing, error) {
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") + os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint == "" || strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return &Tracing{tp: noop.NewTracerProvider()}, nil
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := os.Getenv(v); p != "" && p != "http/protobuf" {
			return nil, fmt.Errorf("%s: %q is not supported; latch exports traces over http/protobuf", v, p)
		}
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	// Later detectors win: OTEL_SERVICE_NAME overrides the default name.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "latch")),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{sdk: sdk, tp: sdk}, nil
}

// Enabled reports whether traces are exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Provider is the tracer provider for instrumented clients: a no-op one
// when tracing is off.
func (t *Tracing) Provider() trace.TracerProvider { return t.tp }

// Handler traces each request to h, continuing a trace that the caller
// propagated (W3C traceparent). Telemetry's Middleware, inside it, names
// the span by route and adds the request ID. Off, it returns h itself.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if t.sdk == nil {
		return h
	}
	return otelhttp.NewHandler(h, "HTTP", otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(propagation.TraceContext{}))
}

// ForceFlush sends the spans ended so far.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.ForceFlush(ctx)
}

// Shutdown sends what is left and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}
