package web

import (
	"testing"
	"time"

	"github.com/latch-idp/latch/locale"
)

func TestDevice(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                                         "Firefox on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":                  "Edge on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15":                          "Safari on macOS",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1":        "Safari on iPhone",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1": "Chrome on iPhone",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                          "Chrome on Android",
		"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":                                 "Chrome on ChromeOS",
		"curl/8.5.0":                    "curl",
		"":                              "An unknown browser",
		"Mozilla/5.0 (Windows NT 10.0)": "A browser on Windows",
	} {
		if got := Device(locale.Get("en"), ua); got != want {
			t.Errorf("Device(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for lang, cases := range map[string]map[time.Duration]string{
		"en": {
			10 * time.Second:    "just now",
			time.Minute:         "1 minute ago",
			59 * time.Minute:    "59 minutes ago",
			3 * time.Hour:       "3 hours ago",
			49 * time.Hour:      "2 days ago",
			90 * 24 * time.Hour: "on 4 September 2026",
			-5 * time.Second:    "just now",
		},
		"de": {
			10 * time.Second:    "gerade eben",
			time.Minute:         "vor 1 Minute",
			3 * time.Hour:       "vor 3 Stunden",
			24 * time.Hour:      "vor 1 Tag",
			90 * 24 * time.Hour: "am 4. September 2026",
		},
	} {
		for d, want := range cases {
			if got := Ago(locale.Get(lang), now.Add(-d), now); got != want {
				t.Errorf("%s: Ago(now-%v) = %q, want %q", lang, d, got, want)
			}
		}
	}
}

func TestDeviceInGerman(t *testing.T) {
	if got := Device(locale.Get("de"), "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"); got != "Firefox unter Linux" {
		t.Errorf("Device = %q", got)
	}
}
