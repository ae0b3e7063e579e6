package autofill_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
)

// TestReadReplicaTarget: the StatefulSet of a read replica is in scope; its minimum is
// the read replica's instances; there is no 9-member maximum and no pacing to fill, and
// a missing maximum is warned about.
func TestReadReplicaTarget(t *testing.T) {
	cluster := gen.InnoDBCluster(ns, "mycluster", gen.WithClusterStatus(innodbcluster.StatusOnline), gen.WithReadReplica("reporting", 2))
	rrSTS := gen.ReadReplicaStatefulSet(cluster, "reporting")
	facts := autofill.Facts{ClusterDomain: "cluster.local", StatefulSet: rrSTS, Cluster: cluster}
	if rr, ok := facts.ReadReplica(); !ok || rr.Name != "reporting" {
		t.Fatalf("ReadReplica() = %+v, %v", rr, ok)
	}
	so := gen.ScaledObject(ns, "reads", "mycluster-reporting", gen.WithMySQLTrigger(query, "3"))

	r := autofill.Decide(so, facts)
	assertPatchMatches(t, so, r)
	want := gen.ScaledObject(ns, "reads", "mycluster-reporting", gen.WithTarget("apps/v1", "StatefulSet", "mycluster-reporting"), gen.WithEnvSourceContainer("mysql"),
		gen.WithMySQLTrigger(query, "3"), gen.WithTriggerMetadata(0, "host", instHost, "port", "3306", "dbName", "testdb", "username", "root"),
		gen.WithAuthenticationRef(0, "", "mycluster-innokeda"), gen.WithReplicas(ptr.To[int32](2), nil),
		gen.WithAnnotation(annotations.Autofilled, "spec.scaleTargetRef.apiVersion,spec.scaleTargetRef.envSourceContainerName,spec.triggers[0].authenticationRef,spec.triggers[0].metadata.host,spec.triggers[0].metadata.port,spec.triggers[0].metadata.dbName,spec.triggers[0].metadata.username,spec.minReplicaCount"))
	if diff := cmp.Diff(want, r.Object); diff != "" {
		t.Errorf("object (-want +got):\n%s", diff)
	}
	if len(r.Warnings) != 2 || r.Warnings[0] != "spec.maxReplicaCount is not set: KEDA's default is 100 read replicas of StatefulSet mycluster-reporting, each a full copy of the data; set the most you want" {
		t.Errorf("warnings %q", r.Warnings)
	}
	if again := autofill.Decide(r.Object, facts); len(again.Fills) != 0 {
		t.Errorf("second pass filled %v", again.Fills)
	}

	t.Run("a maximum of the user's, below the instances: no warning, the minimum capped", func(t *testing.T) {
		r := autofill.Decide(gen.ScaledObjectFrom(so, gen.WithReplicas(nil, ptr.To[int32](1))), facts)
		if got := *r.Object.Spec.MinReplicaCount; got != 1 {
			t.Errorf("minReplicaCount %d, want 1", got)
		}
		if strings.Contains(strings.Join(r.Warnings, "\n"), "maxReplicaCount") {
			t.Errorf("warnings %q", r.Warnings)
		}
	})
	t.Run("a group-member StatefulSet is not a read replica", func(t *testing.T) {
		f := facts
		f.StatefulSet = gen.StatefulSet(cluster)
		if _, ok := f.ReadReplica(); ok {
			t.Error("the group members' StatefulSet taken for a read replica")
		}
	})
}

// TestRouterTarget: the router Deployment <cluster>-router is in scope: its env container
// is router, its minimum spec.router.instances (at least 1), no maximum, no pacing. A
// Deployment of that name that is not the cluster's, and other Deployments, are not.
func TestRouterTarget(t *testing.T) {
	cluster := gen.InnoDBCluster(ns, "mycluster", gen.WithClusterStatus(innodbcluster.StatusOnline), gen.WithRouterInstances(2))
	router := gen.RouterDeployment(cluster)
	facts := autofill.Facts{ClusterDomain: "cluster.local", RouterDeployment: router, Cluster: cluster}
	so := gen.ScaledObject(ns, "connections", "mycluster-router", gen.WithTarget("apps/v1", "Deployment", "mycluster-router"), gen.WithMySQLTrigger(query, "3"))

	r := autofill.Decide(so, facts)
	assertPatchMatches(t, so, r)
	want := gen.ScaledObject(ns, "connections", "mycluster-router", gen.WithTarget("apps/v1", "Deployment", "mycluster-router"), gen.WithEnvSourceContainer("router"),
		gen.WithMySQLTrigger(query, "3"), gen.WithTriggerMetadata(0, "host", instHost, "port", "3306", "dbName", "testdb", "username", "root"),
		gen.WithAuthenticationRef(0, "", "mycluster-innokeda"), gen.WithReplicas(ptr.To[int32](2), nil),
		gen.WithAnnotation(annotations.Autofilled, "spec.scaleTargetRef.envSourceContainerName,spec.triggers[0].authenticationRef,spec.triggers[0].metadata.host,spec.triggers[0].metadata.port,spec.triggers[0].metadata.dbName,spec.triggers[0].metadata.username,spec.minReplicaCount"))
	if diff := cmp.Diff(want, r.Object); diff != "" {
		t.Errorf("object (-want +got):\n%s", diff)
	}
	if again := autofill.Decide(r.Object, facts); len(again.Fills) != 0 {
		t.Errorf("second pass filled %v", again.Fills)
	}

	t.Run("before the cluster is first ONLINE, a warning", func(t *testing.T) {
		f := facts
		f.Cluster = cluster.DeepCopy()
		f.Cluster.Status.Cluster.Status = ""
		r := autofill.Decide(so, f)
		if !strings.Contains(strings.Join(r.Warnings, "\n"), "InnoDBCluster mycluster is not reported ONLINE yet: the MySQL Operator sets up routers and read replicas") {
			t.Errorf("warnings %q", r.Warnings)
		}
	})

	for name, tc := range map[string]struct {
		so    *kedav1alpha1.ScaledObject
		facts autofill.Facts
		skip  autofill.Skip
	}{
		"a Deployment not named like a router costs no lookup": {
			so: gen.ScaledObject(ns, "web", "web", gen.WithTarget("apps/v1", "Deployment", "web")), skip: autofill.SkipTargetKind},
		"a -router Deployment that does not exist": {
			so: so, facts: autofill.Facts{Cluster: cluster}, skip: autofill.SkipStatefulSetNotFound},
		"a -router Deployment no InnoDBCluster controls": {
			so: so, facts: autofill.Facts{Cluster: cluster, RouterDeployment: func() *appsv1.Deployment { d := router.DeepCopy(); d.OwnerReferences = nil; return d }()},
			skip: autofill.SkipNotInnoDBCluster},
		"the router of another cluster under this name": {
			so: gen.ScaledObject(ns, "x", "other-router", gen.WithTarget("apps/v1", "Deployment", "other-router")), facts: facts, skip: autofill.SkipNotInnoDBCluster},
	} {
		t.Run(name, func(t *testing.T) {
			if skip, _ := autofill.Scope(tc.so, tc.facts); skip != tc.skip {
				t.Errorf("Scope = %q, want %q", skip, tc.skip)
			}
		})
	}
}
