// Package webhook holds innokeda's admission webhooks for KEDA ScaledObjects. The
// handlers are thin: they gather facts from the manager's cache and leave every
// decision to the pure rules in internal/autofill.
package webhook

import (
	"context"
	"fmt"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/check"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/internal/validation"
)

// MutatePath is where the API server sends ScaledObjects for defaulting.
const MutatePath = "/mutate-keda-sh-v1alpha1-scaledobject"

// SetupScaledObjectDefaulter registers the mutating webhook with the manager's webhook
// server; secrets reads the few Secrets the cache cannot answer for (see gather).
func SetupScaledObjectDefaulter(mgr manager.Manager, clusterDomain string, scalerAccounts bool, limits validation.Limits, secrets client.Reader) error {
	d := NewScaledObjectDefaulter(mgr.GetScheme(), mgr.GetClient(), secrets, clusterDomain)
	d.scalerAccounts, d.limits = scalerAccounts, limits
	mgr.GetWebhookServer().Register(MutatePath, &admission.Webhook{Handler: d})
	return nil
}

// ScaledObjectDefaulter fills ScaledObjects that scale the StatefulSet of an annotated
// InnoDBCluster. It reads StatefulSets, InnoDBClusters and (Cluster)TriggerAuthentications
// through cache; only when the cache cannot tell whether the cluster's Secret names the root
// account does it read that Secret, through secrets (not a cache of every Secret).
type ScaledObjectDefaulter struct {
	cache         client.Reader
	secrets       client.Reader
	decoder       admission.Decoder
	clusterDomain string
	// scalerAccounts: the controller keeps managed scaler accounts (--scaler-accounts).
	scalerAccounts bool
	// limits bound what one ScaledObject may cost (the validating webhook's, which denies
	// an object over them); the zero value means validation.DefaultLimits.
	limits validation.Limits
}

var _ admission.Handler = &ScaledObjectDefaulter{}

// NewScaledObjectDefaulter returns a defaulter; scheme must know KEDA's and innokeda's types.
func NewScaledObjectDefaulter(scheme *runtime.Scheme, cache, secrets client.Reader, clusterDomain string) *ScaledObjectDefaulter {
	return &ScaledObjectDefaulter{cache: cache, secrets: secrets, decoder: admission.NewDecoder(scheme), clusterDomain: clusterDomain}
}

// Handle implements admission.Handler. It never denies: an object innokeda cannot fill is
// admitted unchanged, with a warning when the user evidently meant it to be filled.
func (d *ScaledObjectDefaulter) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return skipped(skipNotCreateOrUpdate)
	}
	so := &kedav1alpha1.ScaledObject{}
	if err := d.decoder.Decode(req, so); err != nil {
		// The API server's schema validation rejects such an object with a better message.
		logf.FromContext(ctx).V(1).Info("Admitting a ScaledObject that does not decode", "error", err.Error())
		return skipped(skipUndecodable)
	}
	if so.Namespace == "" {
		so.Namespace = req.Namespace // not set in the object on CREATE with generateName
	}
	if costly := validation.Cost(so, d.limits.OrDefault()); len(costly) > 0 {
		// Filling reads every query (for dbName); the validating webhook denies the object.
		return skipped(skipTooCostly).WithWarnings("innokeda filled nothing: the ScaledObject " + costly.ErrorList().ToAggregate().Error())
	}
	kind, name, skip := autofill.TargetOf(so)
	if skip != "" {
		return skipped(skip)
	}
	facts, err := d.gather(ctx, so, kind, name)
	if err != nil {
		logf.FromContext(ctx).Error(err, "Could not look up the target of a ScaledObject")
		degradedTotal.WithLabelValues(webhookMutating, check.UncheckedLookupFailed).Inc()
		return skipped(skipLookupFailed).WithWarnings(
			fmt.Sprintf("innokeda could not look up %s %s, so it filled nothing; try again: %v", kind, name, err))
	}
	result := autofill.Decide(so, facts)
	if result.Skip != "" {
		return skipped(result.Skip).WithWarnings(result.Warnings...)
	}
	paths := make([]string, 0, len(result.Fills))
	for _, f := range result.Fills {
		fillsTotal.WithLabelValues(f.Field).Inc()
		paths = append(paths, f.Path)
	}
	if len(paths) > 0 {
		logf.FromContext(ctx).V(1).Info("Filled ScaledObject", "fields", paths)
	}
	return admission.Patched("", result.Patch...).WithWarnings(result.Warnings...)
}

func skipped(reason autofill.Skip) admission.Response {
	skipsTotal.WithLabelValues(string(reason)).Inc()
	return admission.Allowed("")
}

// gather reads the facts Decide needs. The Secret and the TriggerAuthentications are
// read only for objects in scope.
func (d *ScaledObjectDefaulter) gather(ctx context.Context, so *kedav1alpha1.ScaledObject, kind, name string) (autofill.Facts, error) {
	facts, err := check.LookupTarget(ctx, d.cache, d.secrets, so.Namespace, kind, name)
	facts.ClusterDomain = d.clusterDomain
	if err != nil {
		return facts, err
	}
	if skip, _ := autofill.Scope(so, facts); skip != "" {
		return facts, nil
	}
	cluster := facts.Cluster
	rootUser, err := d.rootUserInSecret(ctx, cluster)
	if err != nil {
		return facts, err
	}
	facts.RootUserInSecret = rootUser
	auths, err := d.triggerAuthentications(ctx, so, cluster)
	facts.TriggerAuthentications = auths
	return facts, err
}

// rootUserInSecret tells whether the cluster's Secret has a rootUser key. Every admission
// in scope asks, so the answer comes from the cache: the TriggerAuthentication innokeda
// keeps maps username exactly when the Secret had the key at its last reconcile, and that
// TriggerAuthentication is what KEDA will use. Only before the controller has written it
// (or when the cluster names a TriggerAuthentication of its own) is the Secret read.
func (d *ScaledObjectDefaulter) rootUserInSecret(ctx context.Context, cluster *innodbcluster.InnoDBCluster) (bool, error) {
	if d.scalerAccounts {
		// The TriggerAuthentication maps username from the scaler Secret once the account
		// exists: a username filled into the trigger now would override it then.
		if _, managedAccount := innodbcluster.ManagedScalerAccount(cluster.Annotations); managedAccount {
			return true, nil
		}
	}
	ta := &kedav1alpha1.TriggerAuthentication{}
	found, err := check.Get(ctx, d.cache, cluster.Namespace, innodbcluster.ManagedTriggerAuthenticationName(cluster.Name), ta)
	if err != nil {
		return false, err
	}
	if found && ta.Labels[managed.ManagedByLabel] == managed.ManagedByValue {
		return autofill.ParametersOf(&ta.Spec).Has("username"), nil
	}
	if cluster.Spec.SecretName == "" {
		return false, nil
	}
	// A Secret that does not exist has no rootUser key: username root is still right.
	secret := &corev1.Secret{}
	if _, err := check.Get(ctx, d.secrets, cluster.Namespace, cluster.Spec.SecretName, secret); err != nil {
		return false, err
	}
	_, ok := secret.Data[innodbcluster.SecretKeyRootUser]
	return ok, nil
}

// triggerAuthentications reads the parameters of each authentication the mysql triggers
// reference, or will reference once filled. The one innokeda manages is known already.
func (d *ScaledObjectDefaulter) triggerAuthentications(ctx context.Context, so *kedav1alpha1.ScaledObject, cluster *innodbcluster.InnoDBCluster) (map[autofill.AuthKey]sets.Set[string], error) {
	settings, _ := innodbcluster.SettingsFromAnnotations(cluster.Annotations)
	managed := autofill.AuthKey{Kind: "TriggerAuthentication", Name: innodbcluster.ManagedTriggerAuthenticationName(cluster.Name)}
	auths := map[autofill.AuthKey]sets.Set[string]{}
	looked := sets.New(managed)
	for _, t := range so.Spec.Triggers {
		if t.Type != autofill.MySQLTriggerType {
			continue
		}
		key := autofill.AuthKey{Kind: "TriggerAuthentication", Name: autofill.AuthenticationName(cluster.Name, settings)}
		if t.AuthenticationRef != nil {
			key = autofill.KeyOf(t.AuthenticationRef)
		}
		if looked.Has(key) {
			continue
		}
		looked.Insert(key)
		var (
			obj  client.Object
			spec *kedav1alpha1.TriggerAuthenticationSpec
			ns   string
		)
		switch key.Kind {
		case "ClusterTriggerAuthentication":
			cta := &kedav1alpha1.ClusterTriggerAuthentication{}
			obj, spec = cta, &cta.Spec
		default:
			ta := &kedav1alpha1.TriggerAuthentication{}
			obj, spec, ns = ta, &ta.Spec, so.Namespace
		}
		found, err := check.Get(ctx, d.cache, ns, key.Name, obj)
		if err != nil {
			return nil, err
		}
		if found {
			auths[key] = autofill.ParametersOf(spec)
		}
	}
	return auths, nil
}
