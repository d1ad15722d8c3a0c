package web

import (
	"strings"

	"github.com/latch-idp/latch/locale"
)

// Device names the browser and system a User-Agent header describes, in
// the words a person recognises ("Firefox on Linux", "Safari on iPhone")
// in l, for lists of sessions. It is a label, never a security decision:
// the header is whatever the client sent.
func Device(l locale.Lang, ua string) string {
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
		return l.T("device.browser_on", "Browser", browser, "System", system)
	case browser != "":
		return browser
	case system != "":
		return l.T("device.some_browser_on", "System", system)
	}
	return l.T("device.unknown")
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
