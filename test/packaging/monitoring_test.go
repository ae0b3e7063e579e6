package packaging

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	grafanadashboard "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/innokeda/innokeda/test/harness"
)

// promtool runs promtool at the version tools/monitoring pins.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	root := harness.RepoRoot()
	cmd := exec.Command("go", append([]string{"tool", "-modfile=" + filepath.Join(root, "tools", "monitoring", "go.mod"), "promtool"}, args...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestAlertingRules: the chart's PrometheusRule, rendered as release innokeda with the
// defaults, is what the kustomize component ships; promtool finds its rules valid, and its
// unit tests (testdata/alerts_test.yaml) see each alert fire on the series that should
// raise it and stay quiet on healthy ones. (The API server takes it: TestHelmChart and
// TestKustomize create it, with the CRD of test/fixtures.)
func TestAlertingRules(t *testing.T) {
	chart := built(decode(t, tool(t, "helm", "template", "innokeda", "charts/innokeda", "--namespace", "innokeda", "--kube-version", "1.37.2",
		"--set", "metrics.prometheusRule.enabled=true")))
	rule := chart.lookup("PrometheusRule", "innokeda")
	if rule == nil {
		t.Fatalf("no PrometheusRule in %q", chart.ids())
	}
	component := built(decode(t, kustomizeBytes(t, "kustomize/overlays/prod"))).lookup("PrometheusRule", "innokeda")
	if component == nil {
		t.Fatal("no PrometheusRule in kustomize/overlays/prod")
	}
	if diff := cmp.Diff(rule.Object["spec"], component.Object["spec"]); diff != "" {
		t.Errorf("kustomize/components/prometheus-rule/prometheusrule.yaml is not the chart's rules (-chart +component): copy the spec of\n"+
			"helm template innokeda charts/innokeda -n innokeda --set metrics.prometheusRule.enabled=true --show-only templates/prometheusrule.yaml\n%s", diff)
	}

	dir := t.TempDir()
	rules, err := yaml.Marshal(rule.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "test", "packaging", "testdata", "alerts_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), tests, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := promtool(t, "check", "rules", filepath.Join(dir, "rules.yaml")); !strings.Contains(out, "SUCCESS: 9 rules found") {
		t.Errorf("promtool check rules:\n%s", out)
	}
	promtool(t, "test", "rules", filepath.Join(dir, "alerts_test.yaml"))

	// Every alert is unit-tested, and has its runbook.
	runbooks, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, alert := range alertNames(t, rule.Object["spec"]) {
		if !strings.Contains(string(tests), "alertname: "+alert+"\n") {
			t.Errorf("alert %s has no unit test in testdata/alerts_test.yaml", alert)
		}
		if !strings.Contains(string(runbooks), "\n## "+alert+"\n") {
			t.Errorf("alert %s has no section in docs/runbooks.md", alert)
		}
	}
}

// alertNames are the alerts of a PrometheusRule's spec.
func alertNames(t *testing.T, spec any) []string {
	t.Helper()
	var names []string
	groups, _ := spec.(map[string]any)["groups"].([]any)
	for _, g := range groups {
		rules, _ := g.(map[string]any)["rules"].([]any)
		for _, r := range rules {
			if name, ok := r.(map[string]any)["alert"].(string); ok {
				names = append(names, name)
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("no alerts")
	}
	return names
}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	Title, UID string
	Templating struct {
		List []struct{ Name, Type string }
	}
	Panels []struct {
		ID         int
		Type       string
		Title      string
		GridPos    *struct{ H, W, X, Y int }
		Datasource *struct{ UID string }
		Targets    []struct {
			RefID string `json:"refId"`
			Expr  string
		}
	}
}

// TestGrafanaDashboard: one dashboard, shipped the same by the chart and the kustomize
// component, each panel placed, on the dashboard's data source, with queries. (That the
// queries read metrics innokeda exports: test/e2e.)
func TestGrafanaDashboard(t *testing.T) {
	root := harness.RepoRoot()
	file, err := os.ReadFile(filepath.Join(root, "charts", "innokeda", "dashboards", "innokeda.json"))
	if err != nil {
		t.Fatal(err)
	}
	if component, err := os.ReadFile(filepath.Join(root, "kustomize", "components", "grafana-dashboard", "innokeda.json")); err != nil || string(component) != string(file) {
		t.Errorf("kustomize/components/grafana-dashboard/innokeda.json is not charts/innokeda/dashboards/innokeda.json: copy it (%v)", err)
	}
	var d dashboard
	if err := json.Unmarshal(file, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if err := grafanaSchemaErrors(file); err != nil {
		t.Errorf("the dashboard does not follow Grafana's schema: %v", err)
	}
	// The schema check can fail: a field Grafana does not know, in a panel's legend.
	misspelt := strings.Replace(string(file), `"placement":`, `"placment":`, 1)
	if misspelt == string(file) {
		t.Fatal("no legend placement in the dashboard to misspell")
	}
	if err := grafanaSchemaErrors([]byte(misspelt)); err == nil || !strings.Contains(err.Error(), "unexpected field 'placment'") {
		t.Errorf("a misspelt legend field passed Grafana's schema: %v", err)
	}
	var variables []string
	for _, v := range d.Templating.List {
		variables = append(variables, v.Type+" "+v.Name)
	}
	if d.UID == "" || d.Title == "" || !slices.Equal(variables, []string{"datasource datasource", "query job"}) {
		t.Errorf("uid %q, title %q, variables %q", d.UID, d.Title, variables)
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] || p.ID == 0 || p.Title == "" || p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %d %q: an id of its own, a title and a place on the 24-column grid", p.ID, p.Title)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: on the dashboard's data source, with queries", p.Title)
		}
		for _, target := range p.Targets {
			if target.Expr == "" || target.RefID == "" {
				t.Errorf("panel %q: a query without an expression or refId", p.Title)
			}
			queries++
		}
	}
	if queries < 10 {
		t.Errorf("%d queries", queries)
	}

	for _, tc := range []struct {
		name string
		objs built
	}{
		{"the chart", built(decode(t, tool(t, "helm", "template", "innokeda", "charts/innokeda", "--namespace", "innokeda", "--kube-version", "1.37.2", "--set", "metrics.grafanaDashboard.enabled=true")))},
		{"the prod overlay", built(decode(t, kustomizeBytes(t, "kustomize/overlays/prod")))},
	} {
		cm := tc.objs.lookup("ConfigMap", "innokeda-dashboard")
		if cm == nil {
			t.Errorf("%s: no ConfigMap innokeda-dashboard", tc.name)
			continue
		}
		data, _, _ := unstructured.NestedString(cm.Object, "data", "innokeda.json")
		if strings.TrimSpace(data) != strings.TrimSpace(string(file)) || cm.GetLabels()["grafana_dashboard"] != "1" {
			t.Errorf("%s: the ConfigMap does not hold the dashboard under innokeda.json, labelled grafana_dashboard: \"1\" (labels %v)", tc.name, cm.GetLabels())
		}
	}
}

// grafanaSchemaErrors decodes a dashboard strictly with the types of Grafana's foundation SDK,
// generated from the schemas Grafana itself ships, its panel plugins' options included: a
// field Grafana does not know, one of the wrong type or a required one missing is an error.
// (Grafana's dashboard-linter would check more, but it needs Loki's and Grafana's AGPL
// modules.)
func grafanaSchemaErrors(raw []byte) error {
	plugins.RegisterDefaultPlugins()
	var d grafanadashboard.Dashboard
	err := d.UnmarshalJSONStrict(raw)
	// UnmarshalJSONStrict returns its list of errors even when it is empty.
	if build := cog.BuildErrors(nil); errors.As(err, &build) && len(build) == 0 {
		return nil
	}
	return err
}
