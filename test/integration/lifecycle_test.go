package integration

import (
	"context"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/controller"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/test/harness"
)

// TestGeneratedScaledObjectFollowsTheClusterState: the zero-YAML ScaledObject is first
// made only when the operator reports the group ONLINE, is kept whatever the state once
// made, and goes as soon as the InnoDBCluster is being deleted, before the cluster is.
func TestGeneratedScaledObjectFollowsTheClusterState(t *testing.T) {
	const ns = "lifecycle"
	c, _ := newClient(t, ns)
	ctx := context.Background()
	cluster, _ := createCluster(t, c, ns, "mycluster", "")
	key := client.ObjectKey{Namespace: ns, Name: managed.Name(cluster.Name)}
	state := func(s string) {
		t.Helper()
		if err := harness.SetClusterState(ctx, c, cluster, s); err != nil {
			t.Fatal(err)
		}
	}
	generated := func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, key, &kedav1alpha1.ScaledObject{})
		return err == nil, client.IgnoreNotFound(err)
	}

	state("PENDING")
	annotate(t, c, cluster, annotations.Query, "SELECT COUNT(*) FROM testdb.testtable", annotations.QueryValue, "3")
	waitForEvent(t, c, cluster, "Normal", controller.ReasonWaitingForOnline, "is created once the cluster is ONLINE (status.cluster.status: PENDING)")
	if ok, err := generated(ctx); ok || err != nil {
		t.Fatalf("a ScaledObject was made for a PENDING cluster (%v)", err)
	}

	state(innodbcluster.StatusOnline)
	eventually(t, "the ScaledObject once ONLINE", generated)

	t.Run("kept, and kept up to date, when the group is no longer ONLINE", func(t *testing.T) {
		state("NO_QUORUM")
		annotate(t, c, cluster, annotations.QueryValue, "4")
		eventually(t, "queryValue 4", func(ctx context.Context) (bool, error) {
			so := &kedav1alpha1.ScaledObject{}
			err := c.Get(ctx, key, so)
			return err == nil && so.Spec.Triggers[0].Metadata["queryValue"] == "4", err
		})
	})

	t.Run("deleted as soon as the cluster is being deleted", func(t *testing.T) {
		latest := &innodbcluster.InnoDBCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), latest); err != nil {
			t.Fatal(err)
		}
		// The operator's finalizer holds the cluster while it takes it down.
		const hold = "test.innokeda.io/hold"
		controllerutil.AddFinalizer(latest, hold)
		if err := c.Update(ctx, latest); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, latest); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the ScaledObject to go while the cluster is still there", func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, key, &kedav1alpha1.ScaledObject{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
		if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), latest); err != nil || latest.DeletionTimestamp.IsZero() {
			t.Fatalf("the cluster should still be there, being deleted: %v", err)
		}
		controllerutil.RemoveFinalizer(latest, hold)
		if err := c.Update(ctx, latest); err != nil {
			t.Fatal(err)
		}
	})
}
