package web

import (
	"fmt"
	"strings"
	"time"
)

// Device names the browser and system a User-Agent header describes, in
// the words a person recognises ("Firefox on Linux", "Safari on iPhone"),
// for lists of sessions. It is a label, never a security decision: the
// header is whatever the client sent.
func Device(ua string) string {
	browser, system := "", ""
	for _, b := range browsers {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, s := range systems {
		if strings.Contains(ua, s.token) {
			system = s.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "A browser on " + system
	}
	return "An unknown browser"
}

type uaToken struct{ token, name string }

// browsers, most specific first: Edge and Opera say Chrome too, Chrome
// says Safari, and the iOS browsers name themselves apart from Safari.
var browsers = []uaToken{
	{"Edg/", "Edge"}, {"EdgiOS/", "Edge"}, {"EdgA/", "Edge"},
	{"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
	{"Safari/", "Safari"},
	{"curl/", "curl"},
}

// systems, most specific first: Android says Linux, iOS says Mac OS X.
var systems = []uaToken{
	{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"},
	{"CrOS", "ChromeOS"}, {"Windows", "Windows"}, {"Macintosh", "macOS"},
	{"Linux", "Linux"},
}

// Ago says how long before now t was, roughly, in words ("just now",
// "5 minutes ago", "3 days ago"): a time that needs no time zone.
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	unit := func(n int, name string) string {
		if n == 1 {
			return "1 " + name + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, name)
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return unit(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return unit(int(d/time.Hour), "hour")
	case d < 60*24*time.Hour:
		return unit(int(d/(24*time.Hour)), "day")
	}
	return "on " + t.UTC().Format("2 Jan 2006")
}
