package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

// TestPacingThroughAPIServer: through the real API server, a group-member ScaledObject
// without a behavior gets the pacing; one with a scaleDown of its own keeps it, gets the
// scaleUp, and a warning with the members it can remove at once; a cluster the operator
// reports as not ONLINE gets a warning naming its state.
func TestPacingThroughAPIServer(t *testing.T) {
	const ns = "pacing"
	c, warnings := newClient(t, ns)
	ctx := context.Background()
	cluster, _ := createCluster(t, c, ns, "mycluster", "root")
	wantPacing := gen.ScaledObject(ns, "x", "mycluster", gen.WithPacing()).Spec.Advanced

	t.Run("no behavior: both policies", func(t *testing.T) {
		warnings.Take()
		so := gen.ScaledObject(ns, "paced", "mycluster", gen.WithMySQLTrigger(query, "3"))
		mustCreate(t, c, so)
		stored := &kedav1alpha1.ScaledObject{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(so), stored); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantPacing, stored.Spec.Advanced); diff != "" {
			t.Errorf("advanced (-want +got):\n%s", diff)
		}
		if got := strings.Join(warnings.Take(), "\n"); strings.Contains(got, "group members at once") || strings.Contains(got, "not ONLINE") {
			t.Errorf("warnings:\n%s", got)
		}
	})

	t.Run("a scaleDown of the user's stands, with the computed member count", func(t *testing.T) {
		warnings.Take()
		half := &autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 50, PeriodSeconds: 60}}}
		so := gen.ScaledObject(ns, "own", "mycluster", gen.WithMySQLTrigger(query, "3"), gen.WithScaleDown(half), gen.WithReplicas(ptr.To[int32](1), ptr.To[int32](9)))
		mustCreate(t, c, so)
		stored := &kedav1alpha1.ScaledObject{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(so), stored); err != nil {
			t.Fatal(err)
		}
		behavior := stored.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior
		if diff := cmp.Diff(half, behavior.ScaleDown); diff != "" {
			t.Errorf("the user's scaleDown changed (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantPacing.HorizontalPodAutoscalerConfig.Behavior.ScaleUp, behavior.ScaleUp); diff != "" {
			t.Errorf("scaleUp (-want +got):\n%s", diff)
		}
		// 50 percent of 9 leaves 4 (4.5 truncated): 5 members at once.
		if got := strings.Join(warnings.Take(), "\n"); !strings.Contains(got, "scaleDown can remove 5 group members at once (from maxReplicaCount 9)") {
			t.Errorf("warnings:\n%s", got)
		}
	})

	t.Run("a cluster that is not ONLINE", func(t *testing.T) {
		if err := harness.SetClusterState(ctx, c, cluster, "NO_QUORUM"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the cache to see the status", func(ctx context.Context) (bool, error) {
			cached := &innodbcluster.InnoDBCluster{}
			err := innokeda.GetCache().Get(ctx, client.ObjectKeyFromObject(cluster), cached)
			return err == nil && cached.Status.Cluster.Status == "NO_QUORUM", err
		})
		warnings.Take()
		mustCreate(t, c, gen.ScaledObject(ns, "quorumless", "mycluster", gen.WithMySQLTrigger(query, "3")))
		if got := strings.Join(warnings.Take(), "\n"); !strings.Contains(got, `InnoDBCluster mycluster is "NO_QUORUM", not ONLINE`) {
			t.Errorf("warnings:\n%s", got)
		}
	})
}

// TestReadReplicaTargetThroughAPIServer: a ScaledObject of a read replica's StatefulSet
// is filled with that read replica's instances as its minimum, no maximum and no pacing,
// and is admitted above 9, which binds group members only.
func TestReadReplicaTargetThroughAPIServer(t *testing.T) {
	const ns = "replicas"
	c, warnings := newClient(t, ns)
	ctx := context.Background()
	cluster, _ := createCluster(t, c, ns, "mycluster", "root", gen.WithReadReplica("reporting", 2))
	rr := gen.ReadReplicaStatefulSet(cluster, "reporting")
	rr.OwnerReferences[0].UID = types.UID(currentUID(t, c, cluster))
	mustCreate(t, c, rr)
	waitForCache(t, ctx, rr)

	warnings.Take()
	so := gen.ScaledObject(ns, "reads", rr.Name, gen.WithMySQLTrigger(query, "3"), gen.WithReplicas(nil, ptr.To[int32](20)))
	mustCreate(t, c, so)
	stored := &kedav1alpha1.ScaledObject{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(so), stored); err != nil {
		t.Fatal(err)
	}
	if got := stored.Spec; got.MinReplicaCount == nil || *got.MinReplicaCount != 2 || *got.MaxReplicaCount != 20 || got.Advanced != nil ||
		got.ScaleTargetRef.EnvSourceContainerName != "mysql" || got.Triggers[0].Metadata["host"] != "mycluster-instances."+ns+".svc.cluster.local" {
		t.Errorf("stored spec: min %v max %v advanced %+v target %+v metadata %v", got.MinReplicaCount, got.MaxReplicaCount, got.Advanced, got.ScaleTargetRef, got.Triggers[0].Metadata)
	}
	if got := strings.Join(warnings.Take(), "\n"); !strings.Contains(got, "dry-run returned") || strings.Contains(got, "scaleDown") {
		t.Errorf("warnings:\n%s", got)
	}
}

// TestRouterTargetThroughAPIServer: a ScaledObject of the router Deployment is filled with
// the router container, spec.router.instances as its minimum, no pacing, and is admitted
// above 9.
func TestRouterTargetThroughAPIServer(t *testing.T) {
	const ns = "routers"
	c, warnings := newClient(t, ns)
	ctx := context.Background()
	cluster, _ := createCluster(t, c, ns, "mycluster", "root", gen.WithRouterInstances(2))
	router := gen.RouterDeployment(cluster)
	router.OwnerReferences[0].UID = types.UID(currentUID(t, c, cluster))
	mustCreate(t, c, router) // unlabelled, as the operator makes it: read from the API, not the cache

	warnings.Take()
	so := gen.ScaledObject(ns, "connections", router.Name, gen.WithTarget("apps/v1", "Deployment", router.Name),
		gen.WithMySQLTrigger(query, "3"), gen.WithReplicas(nil, ptr.To[int32](20)))
	mustCreate(t, c, so)
	stored := &kedav1alpha1.ScaledObject{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(so), stored); err != nil {
		t.Fatal(err)
	}
	if got := stored.Spec; got.MinReplicaCount == nil || *got.MinReplicaCount != 2 || *got.MaxReplicaCount != 20 || got.Advanced != nil ||
		got.ScaleTargetRef.EnvSourceContainerName != "router" || got.Triggers[0].AuthenticationRef == nil {
		t.Errorf("stored spec: min %v max %v advanced %+v target %+v", got.MinReplicaCount, got.MaxReplicaCount, got.Advanced, got.ScaleTargetRef)
	}
	if got := strings.Join(warnings.Take(), "\n"); !strings.Contains(got, "dry-run returned") {
		t.Errorf("warnings:\n%s", got)
	}
}
