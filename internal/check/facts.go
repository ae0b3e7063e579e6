package check

import (
	"context"
	"fmt"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/managed"
	"github.com/innokeda/innokeda/internal/validation"
)

// FillFacts reads the facts autofill.Decide needs to fill so, whose target is of kind and
// name (autofill.TargetOf): from cache, and Secrets (with a router Deployment) from
// secrets. The Secret and the TriggerAuthentications are read only for objects in scope.
// scalerAccounts: the controller keeps managed scaler accounts (--scaler-accounts).
func FillFacts(ctx context.Context, cache, secrets client.Reader, so *kedav1alpha1.ScaledObject, kind, name, clusterDomain string, scalerAccounts bool) (autofill.Facts, error) {
	facts, err := LookupTarget(ctx, cache, secrets, so.Namespace, kind, name)
	facts.ClusterDomain = clusterDomain
	if err != nil {
		return facts, err
	}
	if skip, _ := autofill.Scope(so, facts); skip != "" {
		return facts, nil
	}
	cluster := facts.Cluster
	rootUser, err := rootUserInSecret(ctx, cache, secrets, cluster, scalerAccounts)
	if err != nil {
		return facts, err
	}
	facts.RootUserInSecret = rootUser
	auths, err := triggerAuthentications(ctx, cache, so, cluster)
	facts.TriggerAuthentications = auths
	return facts, err
}

// rootUserInSecret tells whether the cluster's Secret has a rootUser key. Every admission
// in scope asks, so the answer comes from the cache: the TriggerAuthentication innokeda
// keeps maps username exactly when the Secret had the key at its last reconcile, and that
// TriggerAuthentication is what KEDA will use. Only before the controller has written it
// (or when the cluster names a TriggerAuthentication of its own) is the Secret read.
func rootUserInSecret(ctx context.Context, cache, secrets client.Reader, cluster *innodbcluster.InnoDBCluster, scalerAccounts bool) (bool, error) {
	if scalerAccounts {
		// The TriggerAuthentication maps username from the scaler Secret once the account
		// exists: a username filled into the trigger now would override it then.
		if _, managedAccount := innodbcluster.ManagedScalerAccount(cluster.Annotations); managedAccount {
			return true, nil
		}
	}
	ta := &kedav1alpha1.TriggerAuthentication{}
	found, err := Get(ctx, cache, cluster.Namespace, innodbcluster.ManagedTriggerAuthenticationName(cluster.Name), ta)
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
	if _, err := Get(ctx, secrets, cluster.Namespace, cluster.Spec.SecretName, secret); err != nil {
		return false, err
	}
	_, ok := secret.Data[innodbcluster.SecretKeyRootUser]
	return ok, nil
}

// triggerAuthentications reads the parameters of each authentication the mysql triggers
// reference, or will reference once filled. The one innokeda manages is known already.
func triggerAuthentications(ctx context.Context, cache client.Reader, so *kedav1alpha1.ScaledObject, cluster *innodbcluster.InnoDBCluster) (map[autofill.AuthKey]sets.Set[string], error) {
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
		found, err := Get(ctx, cache, ns, key.Name, obj)
		if err != nil {
			return nil, err
		}
		if found {
			auths[key] = autofill.ParametersOf(spec)
		}
	}
	return auths, nil
}

// LookupError is a target that could not be looked up.
type LookupError struct {
	Kind, Name string
	Err        error
}

func (e *LookupError) Error() string { return fmt.Sprintf("look up %s %s: %v", e.Kind, e.Name, e.Err) }
func (e *LookupError) Unwrap() error { return e.Err }

// SkipTooCostly: the object is over the limits, and filling would read every query.
const SkipTooCostly autofill.Skip = "too-costly"

// FillOptions are what the fill depends on besides the object and the cluster.
type FillOptions struct {
	ClusterDomain  string
	ScalerAccounts bool              // --scaler-accounts
	Limits         validation.Limits // the zero value means validation.DefaultLimits
}

// Fill decides what the mutating webhook fills into so, and returns the facts it read for
// the checks that follow: nothing for one whose target is no database's (the target's
// Skip), nothing for one over the limits (SkipTooCostly: the validating webhook denies it
// when it is in scope), else autofill.Decide on the facts read from cache and secrets (FillFacts). The
// error is a lookup that failed.
func Fill(ctx context.Context, cache, secrets client.Reader, so *kedav1alpha1.ScaledObject, o FillOptions) (autofill.Result, autofill.Facts, *LookupError) {
	kind, name, skip := autofill.TargetOf(so)
	if skip != "" {
		return autofill.Result{Skip: skip, Object: so}, autofill.Facts{}, nil
	}
	// Before any lookup: an object's cost is bounded before any work. (Whether its target
	// is a cluster's takes a lookup; the validating webhook, which makes it anyway for its
	// dry-runs, bounds the cost of what is in scope only.)
	if costly := validation.Cost(so, o.Limits.OrDefault()); len(costly) > 0 {
		return autofill.Result{Skip: SkipTooCostly, Object: so, Warnings: []string{"innokeda filled nothing: the ScaledObject " + costly.ErrorList().ToAggregate().Error()}}, autofill.Facts{}, nil
	}
	facts, err := FillFacts(ctx, cache, secrets, so, kind, name, o.ClusterDomain, o.ScalerAccounts)
	if err != nil {
		return autofill.Result{}, facts, &LookupError{Kind: kind, Name: name, Err: err}
	}
	return autofill.Decide(so, facts), facts, nil
}
