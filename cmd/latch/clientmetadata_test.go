package main

import (
	"strings"
	"testing"
)

// TestServeRefusesBadClientMetadataHosts pins the start-up check of
// LATCH_CLIENT_METADATA_HOSTS: one line per bad entry, naming the variable.
func TestServeRefusesBadClientMetadataHosts(t *testing.T) {
	t.Setenv("LATCH_CLIENT_METADATA_HOSTS", "https://app.example.com, *.example.com, ok.example.com, *")
	err := serveDevRefuses(t)
	if err == nil {
		t.Fatal("serve must refuse these hosts")
	}
	var lines []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.HasPrefix(line, "LATCH_CLIENT_METADATA_HOSTS: ") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("want 3 lines (scheme, wildcard, * with others), got:\n%v", err)
	}
	for _, want := range []string{`"https://app.example.com"`, `"*.example.com"`, "* allows any public host"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}
}

func TestServeHelpListsClientMetadataHosts(t *testing.T) {
	out := mustCLI(t, "", "serve", "--help")
	if !strings.Contains(out, "--client-metadata-hosts strings") || !strings.Contains(out, "env LATCH_CLIENT_METADATA_HOSTS)") {
		t.Errorf("--help does not list LATCH_CLIENT_METADATA_HOSTS:\n%s", out)
	}
}
