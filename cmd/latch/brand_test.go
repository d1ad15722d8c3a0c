package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesAnUnreadableBrandColourInOneLine pins the start-up
// check of LATCH_BRAND_COLOR: white button text must be readable on it.
func TestServeRefusesAnUnreadableBrandColourInOneLine(t *testing.T) {
	t.Setenv("LATCH_BRAND_COLOR", "#ffd700")
	err := serveDevRefuses(t)
	if err == nil {
		t.Fatal("serve must refuse a colour white text cannot be read on")
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "LATCH_BRAND_COLOR: #ffd700 has a contrast of") || strings.Contains(msg, "\n") {
		t.Fatalf("want one line naming LATCH_BRAND_COLOR, got %q", msg)
	}
}

// serveDevRefuses runs `latch serve --dev` with the test's environment and
// returns the error it stops with (nil if it started).
func serveDevRefuses(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	return run(ctx, []string{"serve", "--dev"}, nil, &out, &errOut)
}
