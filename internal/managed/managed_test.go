package managed_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/utils/ptr"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/test/gen"
)

func TestScaledObject(t *testing.T) {
	const query = "SELECT COUNT(*) FROM testdb.testtable"
	tests := []struct {
		name         string
		annotations  []string
		wantSpec     *kedav1alpha1.ScaledObjectSpec
		wantProblems []string
	}{
		{
			name:        "query and query-value only",
			annotations: []string{annotations.Query, query, annotations.QueryValue, "5"},
			wantSpec: &kedav1alpha1.ScaledObjectSpec{
				ScaleTargetRef: &kedav1alpha1.ScaleTarget{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "mycluster"},
				Triggers:       []kedav1alpha1.ScaleTriggers{{Type: "mysql", Metadata: map[string]string{"query": query, "queryValue": "5"}}},
			},
		},
		{
			name: "every optional annotation",
			annotations: []string{annotations.Query, query, annotations.QueryValue, " 2.5 ", annotations.ActivationQueryValue, "1",
				annotations.MinReplicas, "3", annotations.MaxReplicas, "7", annotations.PollingInterval, "15", annotations.CooldownPeriod, "0"},
			wantSpec: &kedav1alpha1.ScaledObjectSpec{
				ScaleTargetRef:  &kedav1alpha1.ScaleTarget{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "mycluster"},
				MinReplicaCount: ptr.To[int32](3), MaxReplicaCount: ptr.To[int32](7), PollingInterval: ptr.To[int32](15), CooldownPeriod: ptr.To[int32](0),
				Triggers: []kedav1alpha1.ScaleTriggers{{Type: "mysql", Metadata: map[string]string{"query": query, "queryValue": "2.5", "activationQueryValue": "1"}}},
			},
		},
		{
			name:         "no query-value",
			annotations:  []string{annotations.Query, query},
			wantProblems: []string{`annotation innokeda.io/query-value is missing: set the query's result per replica, e.g. "5"`},
		},
		{
			name: "values that are not numbers, or out of range",
			annotations: []string{annotations.Query, query, annotations.QueryValue, "0", annotations.ActivationQueryValue, "x",
				annotations.MinReplicas, "0", annotations.MaxReplicas, "10", annotations.PollingInterval, "1.5", annotations.CooldownPeriod, "-1"},
			wantProblems: []string{
				`annotation innokeda.io/query-value="0" must be above 0`,
				`annotation innokeda.io/activation-query-value="x" is not a number`,
				`annotation innokeda.io/min-replicas="0" must be between 1 and 9`,
				`annotation innokeda.io/max-replicas="10" must be between 1 and 9`,
				`annotation innokeda.io/polling-interval="1.5" is not a whole number`,
				`annotation innokeda.io/cooldown-period="-1" must be between 0 and 86400`,
			},
		},
		{
			name:         "min above max",
			annotations:  []string{annotations.Query, query, annotations.QueryValue, "1", annotations.MinReplicas, "5", annotations.MaxReplicas, "4"},
			wantProblems: []string{"annotation innokeda.io/min-replicas=5 is above innokeda.io/max-replicas=4"},
		},
		{
			name:         "a hostile query is refused by the dry-run's own guard",
			annotations:  []string{annotations.Query, "/*!99999 SELECT '*/ DROP TABLE t -- '*/", annotations.QueryValue, "1"},
			wantProblems: []string{"annotation innokeda.io/query: the query contains an executable comment (/*! ... */): MySQL and MariaDB run or obey what such a comment holds, and KEDA would execute it on every poll: remove it"},
		},
		{
			name:         "a query that is not a SELECT",
			annotations:  []string{annotations.Query, "DELETE FROM t", annotations.QueryValue, "1"},
			wantProblems: []string{"annotation innokeda.io/query: the query is not a SELECT (statement kind: Delete): the query may only read; KEDA runs it on every poll"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cluster := gen.InnoDBCluster("db", "mycluster")
			cluster.UID = "uid-1"
			for i := 0; i+1 < len(tc.annotations); i += 2 {
				gen.WithClusterAnnotation(tc.annotations[i], tc.annotations[i+1])(cluster)
			}
			so, problems := managed.ScaledObject(cluster)
			if diff := cmp.Diff(tc.wantProblems, problems); diff != "" {
				t.Fatalf("problems (-want +got):\n%s", diff)
			}
			if tc.wantSpec == nil {
				if so != nil {
					t.Fatalf("got a ScaledObject with problems: %+v", so)
				}
				return
			}
			if diff := cmp.Diff(*tc.wantSpec, so.Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
			if so.Name != "mycluster-innokeda" || !managed.OwnedBy(so, cluster) || so.Labels[managed.ManagedByLabel] != "innokeda" {
				t.Errorf("metadata %+v", so.ObjectMeta)
			}
		})
	}
}

func TestWants(t *testing.T) {
	annotated := gen.InnoDBCluster("db", "c")
	withOwnAuth := gen.InnoDBCluster("db", "c", gen.WithClusterAnnotation(annotations.TriggerAuthentication, "mine"))
	off := gen.InnoDBCluster("db", "c", gen.WithClusterAnnotation(annotations.Autofill, "yes"))
	withQuery := gen.InnoDBCluster("db", "c", gen.WithClusterAnnotation(annotations.Query, "SELECT 1"))
	offWithQuery := gen.InnoDBCluster("db", "c", gen.WithClusterAnnotation(annotations.Query, "SELECT 1"), gen.WithClusterAnnotation(annotations.Autofill, ""))
	for _, tc := range []struct {
		name    string
		cluster *innodbcluster.InnoDBCluster
		ta, so  bool
	}{
		{"annotated", annotated, true, false},
		{"names its own TriggerAuthentication", withOwnAuth, false, false},
		{"autofill not exactly \"true\"", off, false, false},
		{"with a query", withQuery, true, true},
		{"a query without autofill", offWithQuery, false, false},
	} {
		if got := managed.WantsTriggerAuthentication(tc.cluster); got != tc.ta {
			t.Errorf("%s: WantsTriggerAuthentication = %v", tc.name, got)
		}
		if got := managed.WantsScaledObject(tc.cluster); got != tc.so {
			t.Errorf("%s: WantsScaledObject = %v", tc.name, got)
		}
	}
}

func TestScaledObjectUpToDate(t *testing.T) {
	cluster := gen.InnoDBCluster("db", "mycluster",
		gen.WithClusterAnnotation(annotations.Query, "SELECT 1"), gen.WithClusterAnnotation(annotations.QueryValue, "2"))
	want, _ := managed.ScaledObject(cluster)
	// As stored: the webhook filled the connection and the replica bounds.
	stored := gen.ScaledObjectFrom(want,
		gen.WithTriggerMetadata(0, "host", "mycluster-instances.db.svc.cluster.local", "port", "3306"),
		gen.WithReplicas(ptr.To[int32](3), ptr.To[int32](9)),
		gen.WithAnnotation(annotations.Autofilled, "spec.triggers[0].metadata.host,spec.triggers[0].metadata.port,spec.maxReplicaCount,spec.minReplicaCount"))
	if !managed.ScaledObjectUpToDate(stored, want) {
		t.Error("the stored, filled object is not up to date")
	}
	changedQuery := gen.ScaledObjectFrom(stored, gen.WithTriggerMetadata(0, "queryValue", "3"))
	if managed.ScaledObjectUpToDate(changedQuery, want) {
		t.Error("a changed queryValue is up to date")
	}
	// minReplicaCount set by innokeda from an annotation since removed (not in autofilled).
	leftover := gen.ScaledObjectFrom(stored, gen.WithAnnotation(annotations.Autofilled, "spec.maxReplicaCount"))
	if managed.ScaledObjectUpToDate(leftover, want) {
		t.Error("a minReplicaCount no annotation asks for any more is up to date")
	}
}
