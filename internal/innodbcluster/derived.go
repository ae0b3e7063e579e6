package innodbcluster

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// The Derived functions return the objects the MySQL Operator makes for a cluster, as far
// as innokeda reads them (shared/reference/mysql-operator.md): innokeda lint, which has
// only the manifests, stands them in for what an API server would hold, and the tests
// create them in envtest, where no operator runs.

// DerivedStatefulSet returns the StatefulSet the MySQL Operator creates for cluster: same name,
// the cluster label, containers sidecar then mysql, and a controller ownerReference to
// the cluster (whose UID must be set when the object goes to an API server).
func DerivedStatefulSet(cluster *InnoDBCluster) *appsv1.StatefulSet {
	labels := map[string]string{ClusterLabel: cluster.Name, "component": "mysqld"}
	return &appsv1.StatefulSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       cluster.Namespace,
			Name:            StatefulSetName(cluster.Name),
			Labels:          map[string]string{ClusterLabel: cluster.Name, "tier": "mysql"},
			OwnerReferences: []metav1.OwnerReference{ControllerRef(GroupVersion.String(), Kind, cluster.Name, cluster.UID)},
		},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    cluster.Spec.Instances,
			ServiceName: InstancesService(cluster.Name),
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "sidecar", Image: "container-registry.oracle.com/mysql/community-operator"},
					{Name: MySQLContainer, Image: "container-registry.oracle.com/mysql/community-server"},
				}},
			},
		},
	}
}

// DerivedReadReplicaStatefulSet returns the StatefulSet <cluster>-<name> the MySQL Operator makes
// for read replica name of cluster: labelled as a read replica, controlled by the cluster.
func DerivedReadReplicaStatefulSet(cluster *InnoDBCluster, name string) *appsv1.StatefulSet {
	sts := DerivedStatefulSet(cluster)
	sts.Name = ReadReplicaStatefulSet(cluster.Name, name)
	sts.Labels[InstanceTypeLabel] = InstanceTypeReadReplica
	sts.Labels["mysql.oracle.com/read-replica"] = sts.Name
	sts.Spec.ServiceName = sts.Name + "-instances"
	sts.Spec.Replicas = nil
	if rr, ok := cluster.ReadReplicaOf(sts.Name); ok {
		sts.Spec.Replicas = rr.Instances
	}
	return sts
}

// DerivedRouterDeployment returns the Deployment <cluster>-router the MySQL Operator makes for
// cluster (router_objects.py prepare_router_deployment, adopted by the cluster), with its
// one container, router, and as the operator writes it, no labels of its own.
func DerivedRouterDeployment(cluster *InnoDBCluster) *appsv1.Deployment {
	labels := map[string]string{ClusterLabel: cluster.Name, "app.kubernetes.io/component": "router", "component": "mysqlrouter"}
	replicas := cluster.RouterInstances()
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: cluster.Namespace,
			Name:      RouterDeployment(cluster.Name),
			// No labels: the operator's template misspells the key (router_objects.py
			// "label:"), so only the pod template and the selector carry them.
			OwnerReferences: []metav1.OwnerReference{ControllerRef(GroupVersion.String(), Kind, cluster.Name, cluster.UID)},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: RouterContainer, Image: "container-registry.oracle.com/mysql/community-router"},
				}},
			},
		},
	}
}

// ControllerRef is a controller ownerReference, as the operator (kopf.adopt) and the
// StatefulSet controller write them.
func ControllerRef(apiVersion, kind, name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}
