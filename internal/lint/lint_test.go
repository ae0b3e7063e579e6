package lint

import (
	"fmt"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/manifests"
)

func testScheme(t testing.TB) *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, kedav1alpha1.AddToScheme, innodbcluster.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

const cluster = `apiVersion: mysql.oracle.com/v2
kind: InnoDBCluster
metadata:
  name: mycluster
  annotations:
    innokeda.io/autofill: "true"
    innokeda.io/database: app
spec:
  secretName: mycluster-secret
  instances: 3
`

// scaledObject is a ScaledObject of StatefulSet target with one mysql trigger of query,
// and extra lines (indented under spec) appended.
func scaledObject(name, target, query string, specLines ...string) string {
	return fmt.Sprintf(`apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %s
spec:
  scaleTargetRef:
    kind: StatefulSet
    name: %s
  triggers:
  - type: mysql
    metadata:
      query: %q
      queryValue: "5"
%s`, name, target, query, strings.Join(specLines, "\n"))
}

func lintText(t *testing.T, docs ...string) Report {
	t.Helper()
	input, errs := manifests.Parse("in.yaml", []byte(strings.Join(docs, "---\n")))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return Lint(input, Options{Scheme: testScheme(t), Namespace: "default", ClusterDomain: "cluster.local"})
}

// rulesOf lists the findings as rule@field, in order.
func rulesOf(r Report) string {
	var rules []string
	for _, f := range r.Findings {
		rules = append(rules, f.Rule+"@"+f.Field)
	}
	return strings.Join(rules, " ")
}

func TestLint(t *testing.T) {
	good := "SELECT COUNT(*) FROM app.jobs"
	for _, tc := range []struct {
		name  string
		docs  []string
		want  []string // rule@field that must be found
		avoid []string // rules that must not be
		worst Severity
	}{
		{name: "a minimal ScaledObject: what the webhook fills, and the warning of no bound",
			docs: []string{cluster, scaledObject("so", "mycluster", good)},
			want: []string{"fill-envSourceContainerName@spec.scaleTargetRef.envSourceContainerName", "fill-host@spec.triggers[0].metadata.host",
				"fill-minReplicaCount@spec.minReplicaCount", "warning@"},
			avoid: []string{"query-not-read-only", "not-checked"}, worst: Warning},
		{name: "a write is denied at its field", docs: []string{cluster, scaledObject("so", "mycluster", "DELETE FROM app.jobs")},
			want: []string{"query-not-read-only@spec.triggers[0].metadata.query"}, worst: Error},
		{name: "a maximum above the group limit is denied, not replaced", docs: []string{cluster, scaledObject("so", "mycluster", good, "  maxReplicaCount: 12")},
			want: []string{"replica-bounds@spec.maxReplicaCount"}, avoid: []string{"fill-maxReplicaCount"}, worst: Error},
		{name: "outside the owner's bound", docs: []string{strings.Replace(cluster, "innokeda.io/database: app", "innokeda.io/allowed-tables: shop.*", 1), scaledObject("so", "mycluster", good)},
			want: []string{"read-bound@spec.triggers[0].metadata.query"}, worst: Error},
		{name: "no cluster in the input: the checks that need none, and a note", docs: []string{scaledObject("so", "othercluster", "DELETE FROM app.jobs")},
			want: []string{"query-not-read-only@spec.triggers[0].metadata.query", "not-checked@"}, avoid: []string{"fill-host"}, worst: Error},
		{name: "a cluster not annotated: nothing checked, as at admission, but the container KEDA would read", docs: []string{strings.Replace(cluster, `innokeda.io/autofill: "true"`, `innokeda.io/autofill: "false"`, 1), scaledObject("so", "mycluster", "DELETE FROM app.jobs")},
			want: []string{"env-source-container-missing@spec.scaleTargetRef.envSourceContainerName"}, avoid: []string{"query-not-read-only", "fill-host"}, worst: Warning},
		{name: "a cluster not annotated, the container named: nothing", docs: []string{strings.Replace(cluster, `innokeda.io/autofill: "true"`, `innokeda.io/autofill: "false"`, 1),
			strings.Replace(scaledObject("so", "mycluster", "SELECT 1"), "    name: mycluster\n", "    name: mycluster\n    envSourceContainerName: mysql\n", 1)},
			avoid: []string{"query-not-read-only"}},
		{name: "another workload: nothing", docs: []string{cluster, strings.Replace(scaledObject("so", "web", "DELETE FROM app.jobs"), "kind: StatefulSet", "kind: Deployment", 1)},
			avoid: []string{"query-not-read-only"}},
		{name: "advice: a key KEDA ignores, an aggregate that can be NULL", docs: []string{cluster, strings.Replace(scaledObject("so", "mycluster", "SELECT SUM(n) FROM app.jobs"), "      queryValue: \"5\"", "      queryValue: \"5\"\n      metricName: jobs", 1)},
			want: []string{"ignored-metadata@spec.triggers[0].metadata.metricName", "nullable-aggregate@spec.triggers[0].metadata.query"}, worst: Warning},
		{name: "a key that differs from triggers only in case folding hides nothing: read as the API server reads", docs: []string{cluster,
			scaledObject("so", "mycluster", "DELETE FROM app.jobs") + "  triggerſ: []\n"},
			want: []string{"query-not-read-only@spec.triggers[0].metadata.query"}, worst: Error},
		{name: "another StatefulSet, without a mysql trigger: none of innokeda's business", docs: []string{cluster,
			"apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: kafka}\nspec:\n  scaleTargetRef: {kind: StatefulSet, name: consumer}\n  minReplicaCount: 0\n  triggers:\n  - type: kafka\n    metadata: {topic: t}\n"},
			avoid: []string{"replica-bounds", "not-checked"}},
		{name: "seventeen mysql triggers on another workload: none of innokeda's business", docs: []string{cluster,
			strings.Replace(scaledObject("so", "web", "SELECT 1"), "kind: StatefulSet", "kind: Deployment", 1) + strings.Repeat("  - type: mysql\n    metadata: {query: \"SELECT 1\", queryValue: \"1\"}\n", 16)},
			avoid: []string{"too-costly"}},
		{name: "seventeen mysql triggers on the cluster: too costly", docs: []string{cluster,
			scaledObject("so", "mycluster", "SELECT COUNT(*) FROM app.jobs") + strings.Repeat("  - type: mysql\n    metadata: {query: \"SELECT 1\", queryValue: \"1\"}\n", 16)},
			want: []string{"too-costly@spec.triggers"}, avoid: []string{"fill-host"}, worst: Error},
		{name: "the InnoDBCluster of a cluster not annotated as the target: admission's warning", docs: []string{strings.Replace(cluster, `innokeda.io/autofill: "true"`, `innokeda.io/autofill: "false"`, 1),
			strings.Replace(scaledObject("so", "mycluster", "SELECT 1"), "kind: StatefulSet", "kind: InnoDBCluster", 1)},
			want: []string{"warning@"}, worst: Warning},
		{name: "a ScaledObject that does not decode", docs: []string{cluster, "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: bad}\nspec: 7\n"},
			want: []string{"unreadable@"}, worst: Error},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := lintText(t, tc.docs...)
			got := " " + rulesOf(r) + " "
			for _, w := range tc.want {
				if !strings.Contains(got, " "+w+" ") {
					t.Errorf("findings %s; want %s", got, w)
				}
			}
			for _, a := range tc.avoid {
				if strings.Contains(got, " "+a+"@") {
					t.Errorf("findings %s; want no %s", got, a)
				}
			}
			if worst, found := r.Worst(); found != (len(tc.want) > 0) || found && worst != tc.worst {
				t.Errorf("worst %v (found %v); want %v", worst, found, tc.worst)
			}
			for _, f := range r.Findings {
				if f.File != "in.yaml" || f.Line < 1 || !strings.HasPrefix(f.Object, "ScaledObject ") || f.Message == "" {
					t.Errorf("finding without its place or message: %+v", f)
				}
			}
		})
	}
}

func TestLintPlacesAndCounts(t *testing.T) {
	configMap := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
	r := lintText(t, cluster, configMap, scaledObject("so", "mycluster", "DELETE FROM app.jobs"))
	if r.ScaledObjects != 1 || r.Skipped != 1 {
		t.Errorf("%d ScaledObjects, %d skipped; want 1 and 1", r.ScaledObjects, r.Skipped)
	}
	for _, f := range r.Findings {
		if f.Rule == "query-not-read-only" && (f.Line != 16 || f.Object != "ScaledObject default/so") {
			t.Errorf("the denial is placed at %s:%d on %s; want line 16, ScaledObject default/so", f.File, f.Line, f.Object)
		}
	}
}
