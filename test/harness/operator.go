package harness

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
)

// CreateOperatorObjects creates, for cluster (already created, so that its UID is set),
// what the MySQL Operator and Kubernetes would: its StatefulSet, its instances and router
// Services, and one running, Ready member pod per instance (their status set through the
// status subresource, as a kubelet would). A dry-run dials only names these objects back.
func CreateOperatorObjects(ctx context.Context, c client.Client, cluster *innodbcluster.InnoDBCluster) (*appsv1.StatefulSet, error) {
	if err := SetClusterState(ctx, c, cluster, innodbcluster.StatusOnline); err != nil {
		return nil, err
	}
	sts := gen.StatefulSet(cluster)
	for _, obj := range []client.Object{sts, gen.InstancesService(cluster), gen.RouterService(cluster)} {
		if err := c.Create(ctx, obj); err != nil {
			return nil, fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	for i := range cluster.DesiredInstances() {
		pod := gen.MemberPod(sts, int(i), fmt.Sprintf("10.244.0.%d", 10+i))
		status := pod.Status
		if err := c.Create(ctx, pod); err != nil {
			return nil, fmt.Errorf("create pod %s: %w", pod.Name, err)
		}
		pod.Status = status
		if err := c.Status().Update(ctx, pod); err != nil {
			return nil, fmt.Errorf("set the status of pod %s: %w", pod.Name, err)
		}
	}
	return sts, nil
}

// SetClusterState writes status.cluster.status of the cluster, as the operator does.
func SetClusterState(ctx context.Context, c client.Client, cluster *innodbcluster.InnoDBCluster, state string) error {
	latest := &innodbcluster.InnoDBCluster{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), latest); err != nil {
		return err
	}
	latest.Status.Cluster.Status = state
	if err := c.Status().Update(ctx, latest); err != nil {
		return fmt.Errorf("set the status of InnoDBCluster %s: %w", cluster.Name, err)
	}
	return nil
}
