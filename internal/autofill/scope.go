package autofill

import (
	"fmt"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
)

// Skip says why innokeda leaves a ScaledObject alone; it is also the metrics label.
type Skip string

const (
	// SkipBeingDeleted: the object has a deletionTimestamp.
	SkipBeingDeleted Skip = "being-deleted"
	// SkipTargetKind: the target is neither an apps/v1 StatefulSet nor an InnoDBCluster.
	SkipTargetKind Skip = "target-kind"
	// SkipStatefulSetNotFound: no StatefulSet of an InnoDBCluster has the target's name.
	SkipStatefulSetNotFound Skip = "statefulset-not-found"
	// SkipNotInnoDBCluster: the StatefulSet is not controlled by an InnoDBCluster.
	SkipNotInnoDBCluster Skip = "not-innodbcluster"
	// SkipClusterNotFound: the InnoDBCluster does not exist.
	SkipClusterNotFound Skip = "cluster-not-found"
	// SkipNotAnnotated: the InnoDBCluster is not annotated innokeda.io/autofill: "true".
	SkipNotAnnotated Skip = "not-annotated"
)

// routerSuffix ends the name of every router Deployment (innodbcluster.RouterDeployment).
var routerSuffix = innodbcluster.RouterDeployment("")

// TargetOf tells, with no lookup, what so's scaleTargetRef names: an InnoDBCluster or a
// StatefulSet, or a Deployment named like a cluster's router (kind), and its name. Anything else is skipped at once, so ScaledObjects
// that scale Deployments and the like cost innokeda nothing.
func TargetOf(so *kedav1alpha1.ScaledObject) (kind, name string, skip Skip) {
	if so.DeletionTimestamp != nil {
		return "", "", SkipBeingDeleted
	}
	ref := so.Spec.ScaleTargetRef
	if ref == nil || ref.Name == "" {
		return "", "", SkipTargetKind
	}
	group := ""
	if ref.APIVersion != "" {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			return "", "", SkipTargetKind
		}
		group = gv.Group
	}
	switch {
	case ref.Kind == "StatefulSet" && (ref.APIVersion == "" || ref.APIVersion == "apps/v1"):
		return ref.Kind, ref.Name, ""
	case ref.Kind == "Deployment" && (ref.APIVersion == "" || ref.APIVersion == "apps/v1") && strings.HasSuffix(ref.Name, routerSuffix):
		// Only a name the operator gives its router Deployment costs a lookup.
		return ref.Kind, ref.Name, ""
	case ref.Kind == innodbcluster.Kind && (group == "" || group == innodbcluster.GroupVersion.Group):
		return ref.Kind, ref.Name, ""
	}
	return "", "", SkipTargetKind
}

// Scope decides from the looked-up objects whether innokeda fills so. A skip comes with a
// warning when the user evidently meant an InnoDBCluster that innokeda cannot serve;
// ScaledObjects of unrelated StatefulSets are skipped silently.
func Scope(so *kedav1alpha1.ScaledObject, facts Facts) (skip Skip, warning string) {
	kind, name, skip := TargetOf(so)
	if skip != "" {
		return skip, ""
	}
	const path = "spec.scaleTargetRef"
	ns := so.Namespace
	if kind == innodbcluster.Kind {
		switch {
		case facts.Cluster == nil:
			return SkipClusterNotFound, fmt.Sprintf("%s: InnoDBCluster %s not found in namespace %s; innokeda filled nothing", path, name, ns)
		case !facts.Cluster.AutofillEnabled():
			return SkipNotAnnotated, fmt.Sprintf("%s: KEDA cannot scale an InnoDBCluster (it has no scale subresource): target StatefulSet %s instead, or annotate the InnoDBCluster %s=\"true\" and innokeda will",
				path, innodbcluster.StatefulSetName(name), annotations.Autofill)
		case facts.StatefulSet == nil:
			return SkipStatefulSetNotFound, fmt.Sprintf("%s: StatefulSet %s of InnoDBCluster %s not found in namespace %s (has the MySQL Operator created it yet?); innokeda filled nothing",
				path, innodbcluster.StatefulSetName(name), name, ns)
		}
		return "", ""
	}

	if kind == "Deployment" {
		if facts.RouterDeployment == nil {
			return SkipStatefulSetNotFound, ""
		}
		clusterName, ok := innodbcluster.ControllerName(facts.RouterDeployment)
		return clusterScope(facts, kind, name, ns, clusterName, ok && name == innodbcluster.RouterDeployment(clusterName))
	}
	if facts.StatefulSet == nil {
		if c := facts.Cluster; c != nil && c.AutofillEnabled() {
			return SkipStatefulSetNotFound, fmt.Sprintf("%s: StatefulSet %s of InnoDBCluster %s not found in namespace %s (has the MySQL Operator created it yet?); innokeda filled nothing",
				path, name, c.Name, ns)
		}
		return SkipStatefulSetNotFound, ""
	}
	clusterName, ok := innodbcluster.ControllerName(facts.StatefulSet)
	return clusterScope(facts, kind, name, ns, clusterName, ok)
}

// clusterScope decides for a workload of kind and name whose controller is InnoDBCluster
// clusterName (owned: it has one, and the workload is one the operator makes for it).
func clusterScope(facts Facts, kind, name, ns, clusterName string, owned bool) (Skip, string) {
	switch {
	case !owned:
		return SkipNotInnoDBCluster, ""
	case facts.Cluster == nil:
		return SkipClusterNotFound, fmt.Sprintf("spec.scaleTargetRef: %s %s belongs to InnoDBCluster %s, which was not found in namespace %s; innokeda filled nothing",
			kind, name, clusterName, ns)
	case !facts.Cluster.AutofillEnabled():
		return SkipNotAnnotated, ""
	}
	return "", ""
}
