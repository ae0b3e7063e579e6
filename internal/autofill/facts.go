package autofill

import (
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/innokeda/innokeda/internal/innodbcluster"
)

// Facts is what Decide knows about the cluster a ScaledObject scales. The webhook
// gathers it from the manager's cache; tests write it down.
type Facts struct {
	// ClusterDomain is the Kubernetes cluster's DNS domain, usually cluster.local.
	ClusterDomain string
	// StatefulSet is the StatefulSet the target names (for a target of kind InnoDBCluster,
	// the cluster's StatefulSet); nil when it does not exist.
	StatefulSet *appsv1.StatefulSet
	// RouterDeployment is the Deployment the target names, when it is a Deployment
	// (<cluster>-router); nil otherwise, or when it does not exist.
	RouterDeployment *appsv1.Deployment
	// Cluster is the InnoDBCluster that controls the StatefulSet or the Deployment (or that
	// the target names); nil when it does not exist.
	Cluster *innodbcluster.InnoDBCluster
	// RootUserInSecret tells whether the cluster's Secret has a rootUser key. The managed
	// TriggerAuthentication maps username from it only then; otherwise triggers need
	// username: root in their metadata.
	RootUserInSecret bool
	// TriggerAuthentications maps every authentication the triggers reference (or may be
	// given) to the parameters it provides. A reference missing from the map does not exist.
	// The TriggerAuthentication innokeda manages need not be listed: Decide knows its shape.
	TriggerAuthentications map[AuthKey]sets.Set[string]
}

// ReadReplica tells whether the target is the StatefulSet of one of the cluster's read
// replicas (the operator labels it so), and returns its spec.readReplicas entry (with
// the operator's default of 1 instance when the entry has gone). Read replicas are not
// group members: they join and leave without touching quorum, and are not bound by the
// 9-member limit.
func (f Facts) ReadReplica() (innodbcluster.ReadReplica, bool) {
	if f.StatefulSet == nil || f.Cluster == nil || f.StatefulSet.Labels[innodbcluster.InstanceTypeLabel] != innodbcluster.InstanceTypeReadReplica {
		return innodbcluster.ReadReplica{}, false
	}
	rr, _ := f.Cluster.ReadReplicaOf(f.StatefulSet.Name)
	return rr, true
}

// Containers are the names of the target's pod template containers, in order.
func (f Facts) Containers() []string {
	var names []string
	template := f.podTemplate()
	if template == nil {
		return nil
	}
	for _, c := range template.Spec.Containers {
		names = append(names, c.Name)
	}
	return names
}

// Container returns the target's pod template container of that name, or nil.
func (f Facts) Container(name string) *corev1.Container {
	template := f.podTemplate()
	if template == nil {
		return nil
	}
	for i := range template.Spec.Containers {
		if template.Spec.Containers[i].Name == name {
			return &template.Spec.Containers[i]
		}
	}
	return nil
}

func (f Facts) podTemplate() *corev1.PodTemplateSpec {
	switch {
	case f.RouterDeployment != nil:
		return &f.RouterDeployment.Spec.Template
	case f.StatefulSet != nil:
		return &f.StatefulSet.Spec.Template
	}
	return nil
}

// Router tells whether the target is the cluster's MySQL Router Deployment.
func (f Facts) Router() bool { return f.RouterDeployment != nil }

// TargetKind is the kind of the target's workload, for messages.
func (f Facts) TargetKind() string {
	if f.Router() {
		return "Deployment"
	}
	return "StatefulSet"
}

// AuthKey identifies a TriggerAuthentication or ClusterTriggerAuthentication.
type AuthKey struct {
	Kind string
	Name string
}

// KeyOf returns the AuthKey of a trigger's authenticationRef (KEDA's default kind is
// TriggerAuthentication).
func KeyOf(ref *kedav1alpha1.AuthenticationRef) AuthKey {
	kind := ref.Kind
	if kind == "" {
		kind = "TriggerAuthentication"
	}
	return AuthKey{Kind: kind, Name: ref.Name}
}

// AuthenticationName is the TriggerAuthentication the triggers of a cluster are pointed
// at: the user's own when the cluster names one, else the one innokeda manages.
func AuthenticationName(cluster string, settings innodbcluster.Settings) string {
	if settings.TriggerAuthentication != "" {
		return settings.TriggerAuthentication
	}
	return innodbcluster.ManagedTriggerAuthenticationName(cluster)
}

// managedParameters is what the TriggerAuthentication innokeda keeps provides.
func managedParameters(rootUserInSecret bool) sets.Set[string] {
	params := sets.New("password")
	if rootUserInSecret {
		params.Insert("username")
	}
	return params
}

// ParametersOf lists the trigger parameters a TriggerAuthentication spec provides, from
// every source KEDA resolves them from.
func ParametersOf(spec *kedav1alpha1.TriggerAuthenticationSpec) sets.Set[string] {
	params := OtherParametersOf(spec)
	for _, r := range spec.SecretTargetRef {
		params.Insert(r.Parameter)
	}
	for _, r := range spec.Env {
		params.Insert(r.Parameter)
	}
	return params
}

// OtherParametersOf are the parameters spec gives from sources other than
// secretTargetRef and env: ConfigMaps, bound service account tokens and the vaults.
func OtherParametersOf(spec *kedav1alpha1.TriggerAuthenticationSpec) sets.Set[string] {
	params := sets.New[string]()
	for _, r := range spec.ConfigMapTargetRef {
		params.Insert(r.Parameter)
	}
	for _, r := range spec.BoundServiceAccountToken {
		params.Insert(r.Parameter)
	}
	if v := spec.HashiCorpVault; v != nil {
		for _, s := range v.Secrets {
			params.Insert(s.Parameter)
		}
	}
	if v := spec.AzureKeyVault; v != nil {
		for _, s := range v.Secrets {
			params.Insert(s.Parameter)
		}
	}
	if v := spec.GCPSecretManager; v != nil {
		for _, s := range v.Secrets {
			params.Insert(s.Parameter)
		}
	}
	if v := spec.AwsSecretManager; v != nil {
		for _, s := range v.Secrets {
			params.Insert(s.Parameter)
		}
	}
	return params
}
