package server

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Grafana dashboard and the Prometheus alert rules of deploy/ name
// metrics by hand: these tests hold them to what a running latch serves.

// alertRules is a Prometheus rule file, decoded strictly.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// alertExprs reads deploy/prometheus/alerts.yaml, checks that every rule
// is whole, and returns each alert's expression by name.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f alertRules
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	out := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" || !slices.Contains([]string{"critical", "warning"}, r.Labels["severity"]) {
				t.Errorf("alert %q lacks a name, an expression, a summary or a severity", r.Alert)
			}
			if _, dup := out[r.Alert]; dup {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			out[r.Alert] = r.Expr
		}
	}
	if len(out) == 0 {
		t.Fatal("alerts.yaml has no alert")
	}
	return out
}

// dashboardExprs reads deploy/grafana/latch.json and returns each panel's
// queries by panel title.
func dashboardExprs(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/latch.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("latch.json: %v", err)
	}
	out := map[string][]string{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Title == "" || len(p.Targets) == 0 {
			t.Errorf("panel %q has no title or no query", p.Title)
		}
		for _, tg := range p.Targets {
			out[p.Title] = append(out[p.Title], tg.Expr)
		}
	}
	if d.UID == "" || len(out) == 0 {
		t.Fatal("latch.json has no uid or no panel")
	}
	return out
}

// metricName finds the metric names in a PromQL expression: latch's own and
// those of the Go and process collectors.
var metricName = regexp.MustCompile(`\b(?:latch|go|process)_[a-z0-9_]+\b`)

// servedNames scrapes a running latch's metrics listener after traffic
// that makes every labelled series appear: a failed and a passed sign-in
// and a token.
func servedNames(t *testing.T) map[string]bool {
	t.Helper()
	s := startServer(t, nil)
	metricsURL := s.metricsListener(t, false)
	u := s.user(t, "user")
	signIn(t, s, u.Email, "not the password")
	signIn(t, s, u.Email, testPassword)
	s.rsToken(t, s.rs)
	names := map[string]bool{}
	for key := range scrapeURL(t, metricsURL+"/metrics") {
		name, _, _ := strings.Cut(key, "{")
		names[name] = true
	}
	return names
}

// checkNames fails for each metric an expression names that latch does not
// serve. Prometheus's own up is allowed.
func checkNames(t *testing.T, served map[string]bool, where, expr string) {
	t.Helper()
	for _, name := range metricName.FindAllString(expr, -1) {
		if !served[name] {
			t.Errorf("%s names %s, which latch does not serve", where, name)
		}
	}
	rest := metricName.ReplaceAllString(expr, "")
	if strings.Contains(rest, "latch_") {
		t.Errorf("%s names a metric the check cannot read: %s", where, expr)
	}
}

func TestAlertsAndDashboardNameOnlyMetricsLatchServes(t *testing.T) {
	served := servedNames(t)
	for name, expr := range alertExprs(t) {
		checkNames(t, served, "alert "+name, expr)
	}
	for title, exprs := range dashboardExprs(t) {
		for _, e := range exprs {
			checkNames(t, served, "panel "+title, e)
		}
	}
}

// TestDashboardShowsEveryLatchMetric keeps the dashboard whole: a metric
// latch serves and no panel shows is one an operator never sees.
func TestDashboardShowsEveryLatchMetric(t *testing.T) {
	served := servedNames(t)
	shown := map[string]bool{}
	for _, exprs := range dashboardExprs(t) {
		for _, e := range exprs {
			for _, name := range metricName.FindAllString(e, -1) {
				shown[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")] = true
			}
		}
	}
	for name := range served {
		family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(name, "latch_") && !shown[family] {
			t.Errorf("no dashboard panel shows %s", family)
		}
	}
}
