package locale

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// catalog reads a message file as flat IDs, each with its forms ("" for a
// plain message, "one", "other" for a plural one) and their texts.
func catalog(t *testing.T, code string) map[string]map[string]string {
	t.Helper()
	b, err := messageFiles.ReadFile("messages/" + code + ".toml")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := toml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			id := strings.TrimPrefix(prefix+"."+k, ".")
			switch v := v.(type) {
			case string:
				if k == "one" || k == "other" {
					if out[prefix] == nil {
						out[prefix] = map[string]string{}
					}
					out[prefix][k] = v
				} else {
					out[id] = map[string]string{"": v}
				}
			case map[string]any:
				walk(id, v)
			}
		}
	}
	walk("", raw)
	return out
}

var placeholder = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

func placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestEveryLanguageHasExactlyEnglishsKeys(t *testing.T) {
	en := catalog(t, Default)
	for _, code := range Codes()[1:] {
		t.Run("lang="+code, func(t *testing.T) {
			other := catalog(t, code)
			for id, forms := range en {
				tr, ok := other[id]
				if !ok {
					t.Errorf("%s lacks %s", code, id)
					continue
				}
				if (forms[""] == "") != (tr[""] == "") {
					t.Errorf("%s: %s is plural in one language only", code, id)
					continue
				}
				for form, text := range forms {
					if tr[form] == "" && form != "" {
						t.Errorf("%s: %s lacks the plural form %s", code, id, form)
					}
					if got, want := placeholders(tr[form]), placeholders(text); !slices.Equal(got, want) {
						t.Errorf("%s: %s uses %v, English %v", code, id, got, want)
					}
				}
			}
			for id := range other {
				if _, ok := en[id]; !ok {
					t.Errorf("%s has %s, which English lacks", code, id)
				}
			}
		})
	}
}

func TestEveryMessageRendersInEveryLanguage(t *testing.T) {
	for id, forms := range catalog(t, Default) {
		args := []any{}
		for _, text := range forms {
			for _, name := range placeholders(text) {
				if name != "Count" {
					args = append(args, name, "x")
				}
			}
		}
		if forms[""] == "" {
			args = append(args, "Count", 2)
		}
		for _, l := range All() {
			if got := l.T(id, args...); got == id || strings.Contains(got, "<no value>") || strings.Contains(got, "{{") {
				t.Errorf("%s: %s renders as %q", l.Code(), id, got)
			}
		}
	}
}

// templateID finds the message IDs templates use: {{t "id" ...}} and
// {{th "id" ...}}.
var templateID = regexp.MustCompile(`\b(?:th?|With) "([^"]+)"`)

// goID is the shape of a message ID in Go code: section.name[.name].
var goID = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)

// notIDs end strings that are file or host names, not message IDs.
var notIDs = []string{".html", ".txt", ".go", ".css", ".js", ".toml", ".json", ".sql", ".com", ".org", ".net", ".example", ".test", ".local"}

// TestEveryMessageIDInUseIsInEnglish reads every page and email template
// and every Go file of latch, and fails for a message ID English lacks:
// it would show as its ID.
func TestEveryMessageIDInUseIsInEnglish(t *testing.T) {
	en := catalog(t, Default)
	sections := map[string]bool{}
	for id := range en {
		sections[strings.SplitN(id, ".", 2)[0]] = true
	}
	used := 0
	check := func(where, id string) {
		used++
		if _, ok := en[id]; !ok {
			t.Errorf("%s uses %q, which the English catalog lacks", where, id)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules" || rel == "examples" || rel == "deploy" {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case strings.Contains(rel, "templates"+string(filepath.Separator)) && (strings.HasSuffix(path, ".html") || strings.HasSuffix(path, ".txt")):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range templateID.FindAllStringSubmatch(string(b), -1) {
				check(rel, m[1])
			}
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil || !goID.MatchString(s) || !sections[strings.SplitN(s, ".", 2)[0]] {
					return true
				}
				for _, suffix := range notIDs {
					if strings.HasSuffix(s, suffix) {
						return true
					}
				}
				check(fset.Position(lit.Pos()).String(), s)
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if used < 100 {
		t.Fatalf("found only %d message IDs in use: the scan is broken", used)
	}
}

func TestMatchPicksAShippedLanguage(t *testing.T) {
	for _, tc := range []struct {
		prefs []string
		want  string
		ok    bool
	}{
		{[]string{"de-CH,de;q=0.9,en;q=0.8"}, "de", true},
		{[]string{"fr-FR,fr;q=0.9,de;q=0.5"}, "de", true},
		{[]string{"fr"}, "en", false},
		{[]string{"", "de"}, "de", true},
		{[]string{"fr de", "en"}, "de", true}, // ui_locales: space-separated
		{[]string{"en-GB", "de"}, "en", true},
		{[]string{"not a tag!"}, "en", false},
	} {
		l, ok := Match(tc.prefs...)
		if l.Code() != tc.want || ok != tc.ok {
			t.Errorf("Match(%q) = %s, %v; want %s, %v", tc.prefs, l.Code(), ok, tc.want, tc.ok)
		}
	}
}

func TestHTMLEscapesArgumentsButKeepsTheCatalogsMarkup(t *testing.T) {
	got := string(Get("en").HTML("verify.explain", "Email", `<script>@example.com`))
	if got != "Confirm that <strong>&lt;script&gt;@example.com</strong> is your address." {
		t.Errorf("HTML = %q", got)
	}
}

func TestDates(t *testing.T) {
	at, _ := time.Parse(time.RFC3339, "2026-03-04T05:06:07Z")
	for code, want := range map[string]string{"en": "4 March 2026 at 05:06 UTC", "de": "4. März 2026 um 05:06 Uhr UTC"} {
		if got := Get(code).Date(at); got != want {
			t.Errorf("%s: %q, want %q", code, got, want)
		}
	}
}
