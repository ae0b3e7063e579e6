package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	admissionmetrics "k8s.io/apiserver/pkg/admission/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

// metricSelector finds the metric of each vector selector in a PromQL expression: a name
// followed by its label matchers, as every expression of innokeda's alerts writes them.
var metricSelector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)

// TestAlertsUseMetricsTheBinaryExports: every metric an alert expression reads is one the
// running binary exports after traffic (a ScaledObject through both webhooks, the leader
// elected), or the API server's, or Prometheus's own: a renamed metric breaks the build,
// not the pager.
func TestAlertsUseMetricsTheBinaryExports(t *testing.T) {
	p, err := harness.StartProcess(controlPlane, binary, harness.Admin, controlPlane.Env.WebhookInstallOptions.LocalServingPort,
		"--leader-elect", "--leader-election-namespace", "default")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	c, _, err := controlPlane.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "metrics"
	cluster := gen.InnoDBCluster(ns, "mycluster")
	for _, obj := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, gen.Secret(cluster, "", "pw"), cluster} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Create(ctx, gen.StatefulSet(cluster)); err != nil { // owned by the cluster, whose UID is now known
		t.Fatal(err)
	}
	// Both webhooks answer it: admitted with a warning (the dry-run finds no server), or
	// denied while the leader has not made the TriggerAuthentication yet. Either is traffic.
	if err := c.Create(ctx, gen.ScaledObject(ns, "so", "mycluster", gen.WithMySQLTrigger("SELECT COUNT(*) FROM app.jobs", "1"))); err != nil &&
		!strings.Contains(err.Error(), `admission webhook "vscaledobject.innokeda.io" denied the request`) {
		t.Fatalf("%v\n%s", err, p.LogTail())
	}
	lines, err := p.Metrics("")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{"up": true} // Prometheus's own, for every target
	for _, l := range lines {
		if name, _, _ := strings.Cut(strings.TrimPrefix(l, "# TYPE "), " "); !strings.HasPrefix(l, "#") || strings.HasPrefix(l, "# TYPE ") {
			name, _, _ = strings.Cut(name, "{")
			exported[name] = true
		}
	}
	// The API server's, at the version the tests run: observed once, so that it is listed.
	admissionmetrics.Metrics.ObserveWebhookFailOpen(ctx, "probe", "validating")
	attributes := admission.NewAttributesRecord(nil, nil, schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"}, ns, "so",
		schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}, "", admission.Create, nil, false, nil)
	admissionmetrics.Metrics.ObserveWebhook(ctx, "probe", time.Millisecond, false, attributes, "validating", 200)
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "apiserver_admission_") {
			exported[f.GetName()] = true
			if f.GetType() == dto.MetricType_HISTOGRAM {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					exported[f.GetName()+suffix] = true
				}
			}
		}
	}

	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "kustomize", "components", "prometheus-rule", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct{ Alert, Expr string }
			}
		}
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatal(err)
	}
	var used []string
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			for _, m := range metricSelector.FindAllStringSubmatch(r.Expr, -1) {
				if !exported[m[1]] {
					t.Errorf("alert %s reads %s, which neither innokeda nor the API server exports", r.Alert, m[1])
				}
				used = append(used, m[1])
			}
		}
	}
	slices.Sort(used)
	used = slices.Compact(used)
	if len(used) < 8 {
		t.Errorf("the alerts read %q: fewer metrics than alerts", used)
	}
	t.Logf("the alerts read %d metrics, each exported: %s", len(used), strings.Join(used, ", "))

	// The dashboard's queries too (charts/innokeda/dashboards/innokeda.json).
	data, err = os.ReadFile(filepath.Join(harness.RepoRoot(), "charts", "innokeda", "dashboards", "innokeda.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dashboard struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dashboard); err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, p := range dashboard.Panels {
		for _, target := range p.Targets {
			for _, m := range metricSelector.FindAllStringSubmatch(target.Expr, -1) {
				if !exported[m[1]] {
					t.Errorf("dashboard panel %q reads %s, which neither innokeda nor the API server exports", p.Title, m[1])
				}
				read++
			}
		}
	}
	if read < 15 {
		t.Errorf("the dashboard reads %d metrics", read)
	}
}
