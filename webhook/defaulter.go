// Package webhook holds innokeda's admission webhooks for KEDA ScaledObjects. The
// handlers are thin: they gather facts from the manager's cache and leave every
// decision to the pure rules in internal/autofill.
package webhook

import (
	"context"
	"fmt"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/check"
	innokedametrics "github.com/innokeda/innokeda/internal/metrics"
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
	result, _, lookupErr := check.Fill(ctx, d.cache, d.secrets, so, check.FillOptions{ClusterDomain: d.clusterDomain, ScalerAccounts: d.scalerAccounts, Limits: d.limits})
	if lookupErr != nil {
		logf.FromContext(ctx).Error(lookupErr, "Could not look up the target of a ScaledObject")
		innokedametrics.AdmissionDegraded.WithLabelValues(webhookMutating, check.UncheckedLookupFailed).Inc()
		return skipped(skipLookupFailed).WithWarnings(
			fmt.Sprintf("innokeda could not look up %s %s, so it filled nothing; try again: %v", lookupErr.Kind, lookupErr.Name, lookupErr.Err))
	}
	if result.Skip != "" {
		return skipped(result.Skip).WithWarnings(result.Warnings...)
	}
	paths := make([]string, 0, len(result.Fills))
	for _, f := range result.Fills {
		innokedametrics.AutofillFills.WithLabelValues(f.Field).Inc()
		paths = append(paths, f.Path)
	}
	if len(paths) > 0 {
		logf.FromContext(ctx).V(1).Info("Filled ScaledObject", "fields", paths)
	}
	return admission.Patched("", result.Patch...).WithWarnings(result.Warnings...)
}

func skipped(reason autofill.Skip) admission.Response {
	innokedametrics.AutofillSkips.WithLabelValues(string(reason)).Inc()
	return admission.Allowed("")
}
