// Package innodbcluster describes the MySQL Operator's InnoDBCluster as far as innokeda
// needs it: the API type (only the fields innokeda reads), the annotations users put on
// it, and the names of the objects the operator creates for a cluster.
package innodbcluster

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/innokeda/innokeda/internal/annotations"
)

// GroupVersion is the API group and version the MySQL Operator serves InnoDBClusters at.
var GroupVersion = schema.GroupVersion{Group: "mysql.oracle.com", Version: "v2"}

// Kind is the InnoDBCluster kind.
const Kind = "InnoDBCluster"

// InnoDBCluster is a minimal view of mysql.oracle.com/v2 InnoDBCluster: innokeda reads a
// few spec fields and the annotations, and ignores everything else so that it keeps
// working across operator versions.
type InnoDBCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec   `json:"spec,omitempty"`
	Status            Status `json:"status,omitempty"`
}

// Status holds the status fields innokeda reads. The CRD leaves status schemaless; the
// operator writes status.cluster.
type Status struct {
	Cluster ClusterStatus `json:"cluster,omitempty"`
}

// ClusterStatus is the operator's view of the replication group.
type ClusterStatus struct {
	// Status is the group's state: ONLINE, ONLINE_PARTIAL, NO_QUORUM, PENDING, ...
	Status string `json:"status,omitempty"`
}

// StatusOnline is status.cluster.status of a group whose members are all ONLINE.
const StatusOnline = "ONLINE"

// Spec holds the InnoDBCluster spec fields innokeda uses.
type Spec struct {
	// SecretName names the Secret with the root account (keys rootUser, rootPassword).
	SecretName string `json:"secretName,omitempty"`
	// Instances is the number of Group Replication members; the operator defaults it to 1.
	Instances *int32 `json:"instances,omitempty"`
	// ReadReplicas are asynchronous replicas outside the group, one StatefulSet each.
	ReadReplicas []ReadReplica `json:"readReplicas,omitempty"`
	// Router is the MySQL Router Deployment <cluster>-router.
	Router *RouterSpec `json:"router,omitempty"`
}

// RouterSpec holds spec.router.
type RouterSpec struct {
	Instances *int32 `json:"instances,omitempty"`
}

// RouterInstances is spec.router.instances, or the operator's default of 1.
func (c *InnoDBCluster) RouterInstances() int32 {
	if c.Spec.Router == nil || c.Spec.Router.Instances == nil {
		return 1
	}
	return *c.Spec.Router.Instances
}

// ReadReplica is one entry of spec.readReplicas: StatefulSet <cluster>-<name>.
type ReadReplica struct {
	Name      string `json:"name"`
	Instances *int32 `json:"instances,omitempty"`
}

// InnoDBClusterList is a list of InnoDBClusters.
type InnoDBClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []InnoDBCluster `json:"items"`
}

// AddToScheme registers the minimal InnoDBCluster types under mysql.oracle.com/v2.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &InnoDBCluster{}, &InnoDBClusterList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// DesiredInstances is spec.instances, or the operator's default of 1 when unset.
func (c *InnoDBCluster) DesiredInstances() int32 {
	if c.Spec.Instances == nil {
		return 1
	}
	return *c.Spec.Instances
}

// DeepCopyInto copies c into out.
func (c *InnoDBCluster) DeepCopyInto(out *InnoDBCluster) {
	*out = *c
	out.TypeMeta = c.TypeMeta
	c.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if c.Spec.Instances != nil {
		n := *c.Spec.Instances
		out.Spec.Instances = &n
	}
	if c.Spec.Router != nil {
		out.Spec.Router = &RouterSpec{}
		if c.Spec.Router.Instances != nil {
			n := *c.Spec.Router.Instances
			out.Spec.Router.Instances = &n
		}
	}
	if c.Spec.ReadReplicas != nil {
		out.Spec.ReadReplicas = make([]ReadReplica, len(c.Spec.ReadReplicas))
		for i, rr := range c.Spec.ReadReplicas {
			out.Spec.ReadReplicas[i] = ReadReplica{Name: rr.Name}
			if rr.Instances != nil {
				n := *rr.Instances
				out.Spec.ReadReplicas[i].Instances = &n
			}
		}
	}
}

// DeepCopy returns a deep copy of c.
func (c *InnoDBCluster) DeepCopy() *InnoDBCluster {
	if c == nil {
		return nil
	}
	out := new(InnoDBCluster)
	c.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (c *InnoDBCluster) DeepCopyObject() runtime.Object { return c.DeepCopy() }

// DeepCopyObject implements runtime.Object.
func (l *InnoDBClusterList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &InnoDBClusterList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]InnoDBCluster, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return out
}

// AutofillEnabled tells whether the cluster opted in with innokeda.io/autofill: "true".
func (c *InnoDBCluster) AutofillEnabled() bool {
	return c.Annotations[annotations.Autofill] == "true"
}

// ReadReplicaOf returns the entry of spec.readReplicas whose StatefulSet is statefulSet
// (<cluster>-<name>), if any.
func (c *InnoDBCluster) ReadReplicaOf(statefulSet string) (ReadReplica, bool) {
	for _, rr := range c.Spec.ReadReplicas {
		if ReadReplicaStatefulSet(c.Name, rr.Name) == statefulSet {
			return rr, true
		}
	}
	return ReadReplica{}, false
}

// DesiredInstances is the read replica's instances, or the operator's default of 1.
func (rr ReadReplica) DesiredInstances() int32 {
	if rr.Instances == nil {
		return 1
	}
	return *rr.Instances
}
