// Package managed describes the objects innokeda keeps for an annotated InnoDBCluster:
// the TriggerAuthentication <cluster>-innokeda, and the ScaledObject <cluster>-innokeda
// when the cluster's annotations ask for one. It is pure: the controller reads the world,
// asks this package what should exist, and writes the difference.
package managed

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/validation"
)

// ManagedByLabel marks what innokeda created.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "innokeda"
)

// Name is the name of both objects innokeda keeps for a cluster.
func Name(cluster string) string { return innodbcluster.ManagedTriggerAuthenticationName(cluster) }

// ClusterOf is the cluster whose managed objects would be called name, if any: Name's
// inverse. The name alone proves nothing; the caller reads the cluster.
func ClusterOf(name string) (string, bool) {
	cluster, ok := strings.CutSuffix(name, Name(""))
	return cluster, ok && cluster != ""
}

// WantsTriggerAuthentication tells whether innokeda should keep a TriggerAuthentication for
// c: it is annotated autofill "true" and does not name a TriggerAuthentication of its own.
func WantsTriggerAuthentication(c *innodbcluster.InnoDBCluster) bool {
	return c.AutofillEnabled() && c.Annotations[annotations.TriggerAuthentication] == ""
}

// TriggerAuthentication returns the TriggerAuthentication innokeda keeps for c: the
// password from its Secret's rootPassword and, when the Secret has one, the username from
// rootUser (otherwise the webhook fills username: root into triggers).
func TriggerAuthentication(c *innodbcluster.InnoDBCluster, rootUserInSecret bool) *kedav1alpha1.TriggerAuthentication {
	refs := []kedav1alpha1.AuthSecretTargetRef{{Parameter: "password", Name: c.Spec.SecretName, Key: innodbcluster.SecretKeyRootPassword}}
	if rootUserInSecret {
		refs = append(refs, kedav1alpha1.AuthSecretTargetRef{Parameter: "username", Name: c.Spec.SecretName, Key: innodbcluster.SecretKeyRootUser})
	}
	return &kedav1alpha1.TriggerAuthentication{
		TypeMeta:   metav1.TypeMeta{APIVersion: kedav1alpha1.SchemeGroupVersion.String(), Kind: "TriggerAuthentication"},
		ObjectMeta: objectMeta(c),
		Spec:       kedav1alpha1.TriggerAuthenticationSpec{SecretTargetRef: refs},
	}
}

// WantsScaledObject tells whether c asks for a generated ScaledObject.
func WantsScaledObject(c *innodbcluster.InnoDBCluster) bool {
	return c.AutofillEnabled() && c.Annotations[annotations.Query] != ""
}

// ScaledObject returns the ScaledObject c's annotations describe: its StatefulSet as the
// target, one mysql trigger. The mutating webhook fills in the connection. It returns the
// problems with the annotations instead, one message each, when there are any.
func ScaledObject(c *innodbcluster.InnoDBCluster) (*kedav1alpha1.ScaledObject, []string) {
	a := c.Annotations
	var problems []string
	metadata := map[string]string{"query": a[annotations.Query]}
	// The same guard as the dry-run's: innokeda never writes a query KEDA would run if the
	// dry-run would refuse to send it, whether or not the validating webhook is reachable.
	if err := dryrun.CheckQuery(a[annotations.Query]); err != nil {
		problems = append(problems, fmt.Sprintf("annotation %s: the query %v", annotations.Query, err))
	}
	number := func(key string, check func(float64) string) {
		v, ok := a[key]
		if !ok {
			return
		}
		f, err := validation.ParseNumber(v)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("annotation %s=%q is not a number", key, v))
		case check(f) != "":
			problems = append(problems, fmt.Sprintf("annotation %s=%q %s", key, v, check(f)))
		}
	}
	if _, ok := a[annotations.QueryValue]; !ok {
		problems = append(problems, fmt.Sprintf("annotation %s is missing: set the query's result per replica, e.g. \"5\"", annotations.QueryValue))
	}
	number(annotations.QueryValue, func(f float64) string {
		if f <= 0 {
			return "must be above 0"
		}
		return ""
	})
	number(annotations.ActivationQueryValue, func(f float64) string {
		if f < 0 {
			return "must not be below 0"
		}
		return ""
	})
	if v, ok := a[annotations.QueryValue]; ok {
		metadata["queryValue"] = strings.TrimSpace(v)
	}
	if v, ok := a[annotations.ActivationQueryValue]; ok {
		metadata["activationQueryValue"] = strings.TrimSpace(v)
	}

	integer := func(key string, lowest, highest int32) *int32 {
		v, ok := a[key]
		if !ok {
			return nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("annotation %s=%q is not a whole number", key, v))
			return nil
		case int32(n) < lowest || int32(n) > highest:
			problems = append(problems, fmt.Sprintf("annotation %s=%q must be between %d and %d", key, v, lowest, highest))
			return nil
		}
		return ptr.To(int32(n))
	}
	const oneDay = 86400
	minReplicas := integer(annotations.MinReplicas, 1, innodbcluster.MaxGroupMembers)
	maxReplicas := integer(annotations.MaxReplicas, 1, innodbcluster.MaxGroupMembers)
	polling := integer(annotations.PollingInterval, 1, oneDay)
	cooldown := integer(annotations.CooldownPeriod, 0, oneDay)
	if minReplicas != nil && maxReplicas != nil && *minReplicas > *maxReplicas {
		problems = append(problems, fmt.Sprintf("annotation %s=%d is above %s=%d", annotations.MinReplicas, *minReplicas, annotations.MaxReplicas, *maxReplicas))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return &kedav1alpha1.ScaledObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: kedav1alpha1.SchemeGroupVersion.String(), Kind: "ScaledObject"},
		ObjectMeta: objectMeta(c),
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef:  &kedav1alpha1.ScaleTarget{APIVersion: "apps/v1", Kind: "StatefulSet", Name: innodbcluster.StatefulSetName(c.Name)},
			MinReplicaCount: minReplicas,
			MaxReplicaCount: maxReplicas,
			PollingInterval: polling,
			CooldownPeriod:  cooldown,
			Triggers:        []kedav1alpha1.ScaleTriggers{{Type: "mysql", Metadata: metadata}},
		},
	}, nil
}

// objectMeta names an object innokeda keeps for c, owned by c so that deleting the
// cluster deletes it.
func objectMeta(c *innodbcluster.InnoDBCluster) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace: c.Namespace,
		Name:      Name(c.Name),
		Labels:    map[string]string{ManagedByLabel: ManagedByValue},
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: innodbcluster.GroupVersion.String(),
			Kind:       innodbcluster.Kind,
			Name:       c.Name,
			UID:        c.UID,
			Controller: ptr.To(true),
		}},
	}
}

// OwnedBy tells whether obj is controlled by cluster c: innokeda writes nothing else.
func OwnedBy(obj metav1.Object, c *innodbcluster.InnoDBCluster) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && ref.UID == c.UID && ref.Kind == innodbcluster.Kind
}

// TriggerAuthenticationUpToDate tells whether existing already is what want describes.
func TriggerAuthenticationUpToDate(existing, want *kedav1alpha1.TriggerAuthentication) bool {
	return existing.Labels[ManagedByLabel] == ManagedByValue &&
		ScalerAccountRecorded(existing) == ScalerAccountRecorded(want) &&
		equality.Semantic.DeepEqual(existing.Spec, want.Spec)
}

// ScaledObjectUpToDate tells whether existing holds every field of want. A field want
// leaves unset may hold what innokeda's mutating webhook filled in (it lists them in the
// autofilled annotation), but nothing else: a value innokeda set from an annotation that
// has since been removed must go.
func ScaledObjectUpToDate(existing, want *kedav1alpha1.ScaledObject) bool {
	filled := strings.Split(existing.Annotations[annotations.Autofilled], ",")
	sameOrFilled := func(path string, got, wanted *int32) bool {
		if wanted == nil {
			return got == nil || slices.Contains(filled, path)
		}
		return got != nil && *got == *wanted
	}
	e, w := existing.Spec, want.Spec
	if existing.Labels[ManagedByLabel] != ManagedByValue || e.ScaleTargetRef == nil ||
		e.ScaleTargetRef.Kind != w.ScaleTargetRef.Kind || e.ScaleTargetRef.Name != w.ScaleTargetRef.Name ||
		!sameOrFilled("spec.minReplicaCount", e.MinReplicaCount, w.MinReplicaCount) ||
		!sameOrFilled("spec.maxReplicaCount", e.MaxReplicaCount, w.MaxReplicaCount) ||
		!equality.Semantic.DeepEqual(e.PollingInterval, w.PollingInterval) ||
		!equality.Semantic.DeepEqual(e.CooldownPeriod, w.CooldownPeriod) ||
		len(e.Triggers) != len(w.Triggers) {
		return false
	}
	for i, t := range w.Triggers {
		got := e.Triggers[i]
		if got.Type != t.Type {
			return false
		}
		for _, key := range []string{"query", "queryValue", "activationQueryValue"} {
			if got.Metadata[key] != t.Metadata[key] {
				return false
			}
		}
	}
	return true
}
