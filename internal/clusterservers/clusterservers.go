// Package clusterservers reads, from the manager's cache, what the API server holds
// about the MySQL servers of one InnoDBCluster: what the dry-run's host policy
// (dryrun.HostPolicy) and the scaler account's controller check a host against before
// dialing it. Both read it the same way, so they connect to the same places.
package clusterservers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/innodbcluster"
)

// Lookup reads the cluster's instances and router Services, its StatefulSet and the pods
// labelled as its own. The cache holds only objects labelled mysql.oracle.com/cluster
// (see app.NewManager); dryrun.HostPolicy checks their owners, since a label is no proof.
// Objects that do not exist are left nil; only other errors are returned.
func Lookup(ctx context.Context, cache client.Reader, cluster *innodbcluster.InnoDBCluster) (dryrun.ClusterServers, error) {
	servers := dryrun.ClusterServers{Name: cluster.Name, Namespace: cluster.Namespace, UID: cluster.UID}
	instances, router, sts := &corev1.Service{}, &corev1.Service{}, &appsv1.StatefulSet{}
	for _, o := range []struct {
		name string
		obj  client.Object
		set  func()
	}{
		{innodbcluster.InstancesService(cluster.Name), instances, func() { servers.InstancesService = instances }},
		{innodbcluster.RouterService(cluster.Name), router, func() { servers.RouterService = router }},
		{innodbcluster.StatefulSetName(cluster.Name), sts, func() { servers.StatefulSet = sts }},
	} {
		err := cache.Get(ctx, client.ObjectKey{Namespace: cluster.Namespace, Name: o.name}, o.obj)
		switch {
		case err == nil:
			o.set()
		case !apierrors.IsNotFound(err):
			return servers, fmt.Errorf("get %T %s/%s: %w", o.obj, cluster.Namespace, o.name, err)
		}
	}
	pods := &corev1.PodList{}
	if err := cache.List(ctx, pods, client.InNamespace(cluster.Namespace), client.MatchingLabels{innodbcluster.ClusterLabel: cluster.Name}); err != nil {
		return servers, fmt.Errorf("list the pods of InnoDBCluster %s/%s: %w", cluster.Namespace, cluster.Name, err)
	}
	servers.Pods = pods.Items
	return servers, nil
}
