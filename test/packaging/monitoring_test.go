package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	if out := promtool(t, "check", "rules", filepath.Join(dir, "rules.yaml")); !strings.Contains(out, "SUCCESS: 8 rules found") {
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
