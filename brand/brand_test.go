package brand

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestCheckColorKeepsReadableColoursAndDerivesTheDarkShade(t *testing.T) {
	for _, c := range []string{"#0b57d0", "#7a1fa2", "#000000", "#b3261e"} {
		p, err := CheckColor(c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if p.Light != c {
			t.Errorf("%s: light shade %s, want the colour itself", c, p.Light)
		}
		dark, _ := parseHex(p.Dark)
		if got := dark.minContrast(darkBackgrounds); got < MinContrast {
			t.Errorf("%s: dark shade %s has contrast %.2f on the dark page", c, p.Dark, got)
		}
		if css := string(p.Stylesheet()); !strings.Contains(css, p.Light) || !strings.Contains(css, p.Dark) || strings.Contains(css, "<") {
			t.Errorf("%s: stylesheet %q", c, css)
		}
	}
}

func TestCheckColorRefusesWhatWhiteTextCannotBeReadOn(t *testing.T) {
	for _, c := range []string{"#ffff00", "#7cacf8", "#ffffff", "#3b82f6"} {
		_, err := CheckColor(c)
		if err == nil || !strings.Contains(err.Error(), "WCAG AA") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s: want one line about WCAG AA, got %v", c, err)
		}
		// The shade it suggests passes.
		suggested := err.Error()[strings.LastIndex(err.Error(), "#"):][:7]
		if _, err := CheckColor(suggested); err != nil {
			t.Errorf("%s: suggested %s does not pass: %v", c, suggested, err)
		}
	}
	for _, c := range []string{"0b57d0", "#0b57d", "#0b57dz", "blue", "#0b57d0;}"} {
		if _, err := CheckColor(c); err == nil || !strings.Contains(err.Error(), "not a colour") {
			t.Errorf("%q: want not a colour, got %v", c, err)
		}
	}
}

func TestCheckLinks(t *testing.T) {
	const issuer = "https://id.example.com"
	for _, tc := range []struct {
		logo   string
		ok     bool
		origin string
	}{
		{"https://cdn.example.com/logo.svg", true, "https://cdn.example.com"},
		{"https://id.example.com/logo.svg", true, ""},
		{"/assets/logo.png", true, ""},
		{"http://cdn.example.com/logo.svg", false, ""},
		{"//cdn.example.com/logo.svg", false, ""},
		{"javascript:alert(1)", false, ""},
		{"/a\"onerror=x", false, ""},
	} {
		if err := CheckLogo(issuer, tc.logo); (err == nil) != tc.ok {
			t.Errorf("logo %q: err %v, want ok=%v", tc.logo, err, tc.ok)
		}
		if tc.ok {
			if got := LogoOrigin(issuer, tc.logo); got != tc.origin {
				t.Errorf("logo %q: origin %q, want %q", tc.logo, got, tc.origin)
			}
		}
	}
	for support, ok := range map[string]bool{
		"https://help.example.com/latch": true, "mailto:help@example.com": true,
		"http://help.example.com": false, "mailto:": false, "javascript:alert(1)": false, "help@example.com": false,
	} {
		if err := CheckSupport(support); (err == nil) != ok {
			t.Errorf("support %q: err %v, want ok=%v", support, err, ok)
		}
	}
	for name, ok := range map[string]bool{"Acme ID": true, "": false, "a:b": false, "two\nlines": false, strings.Repeat("x", 65): false} {
		if err := CheckName(name); (err == nil) != ok {
			t.Errorf("name %q: err %v, want ok=%v", name, err, ok)
		}
	}
}

func TestTemplatesReplaceBuiltInFilesAndNameUnusedOnes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("login/login.html", "override")
	write("login/typo.html", "nobody reads me")
	tmpl, err := OpenTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	builtin := fstest.MapFS{"templates/login.html": {Data: []byte("built-in")}, "templates/code.html": {Data: []byte("code")}}
	fsys := tmpl.FS("login", builtin, "templates")
	for name, want := range map[string]string{"templates/login.html": "override", "templates/code.html": "code"} {
		if b, err := fs.ReadFile(fsys, name); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
	if got := tmpl.Unused(); len(got) != 1 || got[0] != "login/typo.html" {
		t.Errorf("unused %v, want [login/typo.html]", got)
	}
	var oe *OverrideError
	if err := tmpl.Err("login", "templates", "templates/login.html", errors.New("bad")); !errors.As(err, &oe) || err.Error() != "LATCH_TEMPLATES_DIR: login/login.html: bad" {
		t.Errorf("override error %v", err)
	}
	if err := tmpl.Err("login", "templates", "templates/code.html", errors.New("bad")); errors.As(err, &oe) {
		t.Errorf("a built-in file's error names the directory: %v", err)
	}
	if _, err := OpenTemplates(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing directory is accepted")
	}
	if none, err := OpenTemplates(""); none != nil || err != nil || none.FS("login", builtin, "templates") == nil {
		t.Error("no directory must mean no overrides")
	}
}
