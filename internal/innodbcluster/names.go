package innodbcluster

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Facts about the objects the MySQL Operator creates for a cluster
// (see shared/reference/mysql-operator.md).
const (
	// ClusterLabel is set by the operator on a cluster's StatefulSet; its value is the cluster name.
	ClusterLabel = "mysql.oracle.com/cluster"
	// MySQLContainer is the database container of a group member pod. It is not the first
	// container: the operator puts "sidecar" first.
	MySQLContainer = "mysql"
	// RouterContainer is the router Deployment's only container.
	RouterContainer = "router"
	// MySQLPort is the classic-protocol port, on the instances service and on the router service.
	MySQLPort = 3306
	// MaxGroupMembers is the MySQL Group Replication member limit (spec.instances maximum).
	MaxGroupMembers = 9
	// SecretKeyRootUser and SecretKeyRootPassword are the keys of the Secret named by spec.secretName.
	SecretKeyRootUser     = "rootUser"
	SecretKeyRootPassword = "rootPassword"
	// DefaultRootUser is the operator's root account name when the Secret has no rootUser key.
	DefaultRootUser = "root"
)

// StatefulSetName is the name of the StatefulSet of a cluster's group members.
func StatefulSetName(cluster string) string { return cluster }

// RouterDeployment is the name of the MySQL Router Deployment of a cluster.
func RouterDeployment(cluster string) string { return cluster + "-router" }

// ReadReplicaStatefulSet is the StatefulSet of read replica name of a cluster.
func ReadReplicaStatefulSet(cluster, name string) string { return cluster + "-" + name }

// InstanceTypeLabel tells a group member from a read replica, on the operator's
// StatefulSets and pods.
const (
	InstanceTypeLabel       = "mysql.oracle.com/instance-type"
	InstanceTypeReadReplica = "read-replica"
)

// InstancesService is the headless service that selects every group member.
func InstancesService(cluster string) string { return cluster + "-instances" }

// RouterService is the MySQL Router's service.
func RouterService(cluster string) string { return cluster }

// ServiceHost is the in-cluster DNS name of a service.
func ServiceHost(service, namespace, clusterDomain string) string {
	return service + "." + namespace + ".svc." + clusterDomain
}

// ManagedTriggerAuthenticationName is the TriggerAuthentication innokeda keeps for a cluster.
func ManagedTriggerAuthenticationName(cluster string) string { return cluster + "-innokeda" }

// ControllerName returns the name of the InnoDBCluster that is the controller owner of obj.
func ControllerName(obj metav1.Object) (string, bool) {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil || ref.Kind != Kind {
		return "", false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || gv.Group != GroupVersion.Group {
		return "", false
	}
	return ref.Name, true
}

// RootAccount reads the cluster's root account from the data of the Secret named by
// spec.secretName: rootUser (root when absent or empty) and rootPassword. ok is false
// when the Secret has no rootPassword.
func RootAccount(secretData map[string][]byte) (user, password string, ok bool) {
	pw, ok := secretData[SecretKeyRootPassword]
	if !ok {
		return "", "", false
	}
	user = DefaultRootUser
	if u := secretData[SecretKeyRootUser]; len(u) > 0 {
		user = string(u)
	}
	return user, string(pw), true
}
