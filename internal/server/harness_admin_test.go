package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// adminSuite is a server with an administrator's token for the admin API
// and a machine client granted latch:admin. Every answer the tests get
// from the admin API is checked against its OpenAPI document.
type adminSuite struct {
	s       *testServer
	console *relyingParty // a client that may ask for latch:admin
	admin   storage.User
	token   string // the administrator's
	machine string // the machine client's
	doc     *openAPIDoc
}

func startAdmin(t testing.TB, mutate func(*Config)) *adminSuite {
	t.Helper()
	s := startServer(t, mutate)
	a := &adminSuite{s: s, admin: s.user(t, storage.RoleAdmin)}
	a.console = s.client(t, clients.Metadata{ClientName: "Admin tool", TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid latch:admin", FirstParty: true})
	a.token = a.userToken(t, a.admin)
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "latch:admin", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	a.machine = ccToken(t, svc, "latch:admin")
	a.doc = loadOpenAPI(t, s)
	return a
}

// userToken signs u in through the admin tool, asking for latch:admin.
func (a *adminSuite) userToken(t testing.TB, u storage.User) string {
	t.Helper()
	return a.console.login(t, a.s.browser(), u, []string{"openid", "latch:admin"}, nil).AccessToken
}

// adminCall is one call of the admin API; ifMatch "" sends none.
type adminCall struct {
	method, path, token, ifMatch string
	body                         any
}

type adminAnswer struct {
	status int
	body   map[string]any
	header http.Header
}

// do sends the call and checks the answer against the OpenAPI document.
func (a *adminSuite) do(t testing.TB, c adminCall) adminAnswer {
	t.Helper()
	var rd io.Reader = http.NoBody
	if c.body != nil {
		b, ok := c.body.([]byte)
		if !ok {
			b, _ = json.Marshal(c.body)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), c.method, a.s.URL+c.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.ifMatch != "" {
		req.Header.Set("If-Match", c.ifMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	ans := adminAnswer{status: resp.StatusCode, header: resp.Header, body: map[string]any{}}
	if len(raw) > 0 && json.Unmarshal(raw, &ans.body) != nil {
		t.Fatalf("%s %s: %d, not a JSON object: %s", c.method, c.path, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s: %d %s", c.method, c.path, resp.StatusCode, raw)
	}
	a.doc.check(t, c.method, c.path, ans)
	return ans
}

// as sends a call with the administrator's token.
func (a *adminSuite) as(t testing.TB, method, path string, body any) adminAnswer {
	t.Helper()
	return a.do(t, adminCall{method: method, path: path, token: a.token, body: body})
}

func (ans adminAnswer) want(t testing.TB, status int) adminAnswer {
	t.Helper()
	if ans.status != status {
		t.Fatalf("status %d, want %d: %v", ans.status, status, ans.body)
	}
	return ans
}

func items(ans adminAnswer) []map[string]any {
	var out []map[string]any
	for _, it := range asSlice(ans.body["items"]) {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

// openAPIDoc is the admin API's OpenAPI document, as served.
type openAPIDoc struct {
	Paths      map[string]map[string]openAPIOp `json:"paths"`
	Components struct {
		Schemas map[string]openAPISchema `json:"schemas"`
	} `json:"components"`
	mu   sync.Mutex
	seen map[string]bool // "METHOD path status" answered in tests
}

type openAPIOp struct {
	Responses map[string]struct {
		Content map[string]struct {
			Schema openAPISchema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

type openAPISchema struct {
	Ref        string                   `json:"$ref"`
	Type       string                   `json:"type"`
	Required   []string                 `json:"required"`
	Properties map[string]openAPISchema `json:"properties"`
	Items      *openAPISchema           `json:"items"`
}

func loadOpenAPI(t testing.TB, s *testServer) *openAPIDoc {
	t.Helper()
	resp, err := http.Get(s.URL + "/admin/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc := &openAPIDoc{seen: map[string]bool{}}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(doc) != nil {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	return doc
}

// operation finds the documented operation a concrete path calls.
func (d *openAPIDoc) operation(method, path string) (string, openAPIOp, bool) {
	path, _, _ = strings.Cut(path, "?")
	for tmpl, ops := range d.Paths {
		re := "^" + regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`) + "$"
		if op, ok := ops[strings.ToLower(method)]; ok && regexp.MustCompile(re).MatchString(path) {
			return tmpl, op, true
		}
	}
	return "", openAPIOp{}, false
}

// check fails t unless the answer's status is documented for the call and
// its body has the documented schema.
func (d *openAPIDoc) check(t testing.TB, method, path string, ans adminAnswer) {
	t.Helper()
	tmpl, op, ok := d.operation(method, path)
	if !ok {
		if ans.status != http.StatusNotFound && ans.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s answered %d but is not in the OpenAPI document", method, path, ans.status)
		}
		return
	}
	resp, ok := op.Responses[strconv.Itoa(ans.status)]
	if !ok {
		t.Errorf("%s %s answered %d, which the OpenAPI document does not list", method, tmpl, ans.status)
		return
	}
	d.mu.Lock()
	d.seen[method+" "+tmpl+" "+strconv.Itoa(ans.status)] = true
	d.mu.Unlock()
	if c, ok := resp.Content["application/json"]; ok {
		d.conforms(t, method+" "+tmpl, c.Schema, ans.body)
	}
}

func (d *openAPIDoc) conforms(t testing.TB, where string, s openAPISchema, v any) {
	t.Helper()
	if s.Ref != "" {
		s = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	ok := true
	switch s.Type {
	case "object":
		m, isMap := v.(map[string]any)
		ok = isMap
		for _, r := range s.Required {
			if _, has := m[r]; isMap && !has {
				t.Errorf("%s: the answer lacks %q: %v", where, r, v)
			}
		}
		for k, ps := range s.Properties {
			if x, has := m[k]; has {
				d.conforms(t, where+"."+k, ps, x)
			}
		}
	case "array":
		list, isList := v.([]any)
		ok = isList
		for _, x := range list {
			d.conforms(t, where+"[]", *s.Items, x)
		}
	case "string":
		_, ok = v.(string)
	case "integer":
		f, isNum := v.(float64)
		ok = isNum && f == float64(int64(f))
	case "boolean":
		_, ok = v.(bool)
	}
	if !ok {
		t.Errorf("%s: %v is not of type %s", where, v, s.Type)
	}
}
