package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"gomodules.xyz/jsonpatch/v2"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/app"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/lint"
	"github.com/innokeda/innokeda/internal/manifests"
	"github.com/innokeda/innokeda/test/gen"
)

// TestLintAgreesWithAdmission sends one corpus of ScaledObjects through the API server to
// innokeda's webhooks (real TLS) and through innokeda lint with the cluster's manifest:
// the same verdict (denied or admitted), every warning lint gives among admission's, and
// for what is admitted, lint's --fix the object the API server stored. (Admission also
// dry-runs, which lint does not: its own warnings and denials are not compared.)
func TestLintAgreesWithAdmission(t *testing.T) {
	const ns = "agreement"
	c, warnings := newClient(t, ns)
	ctx := context.Background()
	cluster, _ := createCluster(t, c, ns, "mycluster", "", gen.WithClusterAnnotation(annotations.Database, "testdb"))
	good := "SELECT COUNT(*) FROM testdb.testtable"
	many := make([]gen.ScaledObjectOption, 17)
	for i := range many {
		many[i] = gen.WithMySQLTrigger(good, "1")
	}
	corpus := []struct {
		name string
		opts []gen.ScaledObjectOption
	}{
		{"minimal", []gen.ScaledObjectOption{gen.WithMySQLTrigger(good, "1")}},
		{"a write", []gen.ScaledObjectOption{gen.WithMySQLTrigger("DELETE FROM testdb.testtable", "1")}},
		{"two statements", []gen.ScaledObjectOption{gen.WithMySQLTrigger("SELECT 1; DROP TABLE testdb.testtable", "1")}},
		{"a qualified lock", []gen.ScaledObjectOption{gen.WithMySQLTrigger("SELECT mariadb_schema.get_lock('x', 0)", "1")}},
		{"the accounts", []gen.ScaledObjectOption{gen.WithMySQLTrigger("SELECT COUNT(*) FROM mysql.user", "1")}},
		{"above nine", []gen.ScaledObjectOption{gen.WithMySQLTrigger(good, "1"), gen.WithReplicas(nil, ptr.To[int32](12))}},
		{"min above max", []gen.ScaledObjectOption{gen.WithMySQLTrigger(good, "1"), gen.WithReplicas(ptr.To[int32](5), ptr.To[int32](4))}},
		{"min zero", []gen.ScaledObjectOption{gen.WithMySQLTrigger(good, "1"), gen.WithReplicas(ptr.To[int32](0), nil)}},
		{"the wrong container", []gen.ScaledObjectOption{gen.WithMySQLTrigger(good, "1"), gen.WithEnvSourceContainer("sidecar")}},
		{"no such container", []gen.ScaledObjectOption{gen.WithMySQLTrigger(good, "1"), gen.WithEnvSourceContainer("nginx")}},
		{"an IP for a host", []gen.ScaledObjectOption{gen.WithMySQLTrigger(good, "1"), gen.WithTriggerMetadata(0, "host", "10.96.4.7")}},
		{"the managed credentials sent elsewhere", []gen.ScaledObjectOption{gen.WithMySQLTrigger(good, "1"), gen.WithTriggerMetadata(0, "host", "evil.example.com")}},
		{"a password in metadata", []gen.ScaledObjectOption{gen.WithMySQLTrigger(good, "1"), gen.WithTriggerMetadata(0, "password", "hunter2")}},
		{"no queryValue", []gen.ScaledObjectOption{gen.WithTrigger("mysql", map[string]string{"query": good})}},
		{"no query", []gen.ScaledObjectOption{gen.WithTrigger("mysql", map[string]string{"queryValue": "1"})}},
		{"seventeen triggers", many},
		{"the InnoDBCluster as the target", []gen.ScaledObjectOption{gen.WithMySQLTrigger(good, "1"), gen.WithTarget("mysql.oracle.com/v2", innodbcluster.Kind, "mycluster")}},
	}
	// The cluster's manifest, as Git holds it: what was created, without what the API
	// server set.
	manifest := gen.InnoDBCluster(ns, cluster.Name, gen.WithClusterAnnotation(annotations.Database, "testdb"))
	clusterYAML, err := yaml.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := app.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	verdicts, fills := 0, 0
	var admitted int
	for i, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			so := gen.ScaledObject(ns, fmt.Sprintf("case-%d", i), "mycluster", tc.opts...)
			soYAML, err := yaml.Marshal(so)
			if err != nil {
				t.Fatal(err)
			}
			// Lint first: the corpus file as Git would hold it.
			data := append(append(clusterYAML, "---\n"...), soYAML...)
			input, errs := manifests.Parse("corpus.yaml", data)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			report := lint.Lint(input, lint.Options{Scheme: scheme, Namespace: ns, ClusterDomain: "cluster.local"})
			worst, found := report.Worst()
			lintDenies := found && worst == lint.Error

			warnings.Take()
			createErr := c.Create(ctx, so.DeepCopy())
			admissionWarnings := warnings.Take()
			if (createErr != nil) != lintDenies {
				t.Fatalf("admission: %v; lint denies: %v, findings %+v", createErr, lintDenies, report.Findings)
			}
			for _, f := range report.Findings {
				// (The API server's own schema validation, which runs before the validating
				// webhook, may deny first with its own words.)
				byInnokeda := createErr != nil && strings.Contains(createErr.Error(), "innokeda.io")
				if f.Severity == lint.Error && byInnokeda && f.Field != "" && !strings.Contains(createErr.Error(), f.Field) {
					t.Errorf("lint denies at %s, admission does not name it: %v", f.Field, createErr)
				}
				if f.Severity == lint.Warning && createErr == nil && !slices.ContainsFunc(admissionWarnings, func(w string) bool { return strings.Contains(w, f.Message) }) {
					t.Errorf("lint warns %q; admission's warnings: %q", f.Message, admissionWarnings)
				}
			}
			verdicts++
			if createErr != nil {
				return
			}
			admitted++
			stored := &kedav1alpha1.ScaledObject{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(so), stored); err != nil {
				t.Fatal(err)
			}
			patches := map[int][]jsonpatch.Operation{}
			for _, fx := range report.Fixes {
				patches[fx.Line] = append(patches[fx.Line], fx.Ops...)
			}
			fixed, err := manifests.Apply(data, patches)
			if err != nil {
				t.Fatal(err)
			}
			objects, errs := manifests.Parse("fixed.yaml", fixed)
			if len(errs) > 0 || len(objects) != 2 {
				t.Fatalf("%v %d", errs, len(objects))
			}
			filled := &kedav1alpha1.ScaledObject{}
			if err := json.Unmarshal(objects[1].JSON, filled); err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(filled.Spec, stored.Spec) {
				got, _ := json.Marshal(filled.Spec)
				want, _ := json.Marshal(stored.Spec)
				t.Fatalf("lint --fix gives\n%s\nthe API server stored\n%s", got, want)
			}
			fills++
		})
	}
	t.Logf("lint and admission agree: %d of %d verdicts, %d of %d fills of what was admitted", verdicts, len(corpus), fills, admitted)
}
