package webhook

import (
	"context"
	"fmt"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/innokeda/innokeda/internal/check"
	"github.com/innokeda/innokeda/internal/dryrun"
	innokedametrics "github.com/innokeda/innokeda/internal/metrics"
	"github.com/innokeda/innokeda/internal/validation"
)

// ValidatePath is where the API server sends ScaledObjects for validation.
const ValidatePath = "/validate-keda-sh-v1alpha1-scaledobject"

// What to do when a dry-run cannot happen (server unreachable, too slow, too busy).
const (
	OnUnreachableWarn = "warn"
	OnUnreachableDeny = "deny"
)

// ValidatorOptions configure the validating webhook.
type ValidatorOptions struct {
	// DryRunTimeout bounds the whole validation of one object, dry-runs included.
	DryRunTimeout time.Duration
	// OnUnreachable is OnUnreachableWarn or OnUnreachableDeny.
	OnUnreachable string
	// MaxConcurrentDryRuns bounds the connections innokeda opens to MySQL at once.
	MaxConcurrentDryRuns int
	// KEDANamespace holds the Secrets of ClusterTriggerAuthentications.
	KEDANamespace string
	// Hosts decides which hosts a dry-run may dial.
	Hosts dryrun.HostPolicy
	// ScalerAccounts: the controller keeps managed scaler accounts (--scaler-accounts),
	// so the tables of their triggers' queries must be ones it may grant.
	ScalerAccounts bool
	// Limits bound what one ScaledObject may cost to check (--max-mysql-triggers,
	// --max-query-bytes); the zero value means validation.DefaultLimits.
	Limits validation.Limits
}

// SetupScaledObjectValidator registers the validating webhook with the manager's webhook
// server and returns it, for the audit to share its engine and dry-run slots; secrets
// reads Secrets, and authentications the cache does not have yet.
func SetupScaledObjectValidator(mgr manager.Manager, secrets client.Reader, o ValidatorOptions) (*ScaledObjectValidator, error) {
	v, err := NewScaledObjectValidator(mgr.GetScheme(), mgr.GetClient(), secrets, o)
	if err != nil {
		return nil, err
	}
	// The Services and pods a dry-run's host is checked against: informers made now start
	// with the cache, so the first dry-run does not wait for them to sync.
	for _, obj := range []client.Object{&corev1.Service{}, &corev1.Pod{}} {
		if _, err := mgr.GetCache().GetInformer(context.Background(), obj); err != nil {
			return nil, fmt.Errorf("watch %T: %w", obj, err)
		}
	}
	mgr.GetWebhookServer().Register(ValidatePath, &admission.Webhook{Handler: v})
	return v, nil
}

// ScaledObjectValidator answers the API server for the checking engine (check.Engine):
// it decodes the request, asks the engine, turns the verdict into an admission response
// and counts. It decides nothing itself but what --on-unreachable says.
type ScaledObjectValidator struct {
	decoder       admission.Decoder
	engine        *check.Engine
	onUnreachable string
}

var _ admission.Handler = &ScaledObjectValidator{}

// NewScaledObjectValidator returns a validator; secrets must be an uncached reader.
func NewScaledObjectValidator(scheme *runtime.Scheme, cache, secrets client.Reader, o ValidatorOptions) (*ScaledObjectValidator, error) {
	if o.OnUnreachable != OnUnreachableWarn && o.OnUnreachable != OnUnreachableDeny {
		return nil, fmt.Errorf("on-unreachable must be %q or %q, not %q", OnUnreachableWarn, OnUnreachableDeny, o.OnUnreachable)
	}
	engine, err := check.New(cache, secrets, check.Options{
		DryRunTimeout:        o.DryRunTimeout,
		DenyUnvalidated:      o.OnUnreachable == OnUnreachableDeny,
		MaxConcurrentDryRuns: o.MaxConcurrentDryRuns,
		KEDANamespace:        o.KEDANamespace,
		Hosts:                o.Hosts,
		ScalerAccounts:       o.ScalerAccounts,
		Limits:               o.Limits,
	})
	if err != nil {
		return nil, err
	}
	return &ScaledObjectValidator{decoder: admission.NewDecoder(scheme), engine: engine, onUnreachable: o.OnUnreachable}, nil
}

// Engine is the validator's checking engine, for the audit: the same checks, and the same
// dry-run slots.
func (v *ScaledObjectValidator) Engine() *check.Engine { return v.engine }

// Handle implements admission.Handler.
func (v *ScaledObjectValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	so := &kedav1alpha1.ScaledObject{}
	if err := v.decoder.Decode(req, so); err != nil {
		return admission.Allowed("") // the API server's schema validation answers this one
	}
	if so.Namespace == "" {
		so.Namespace = req.Namespace
	}
	if req.Operation == admissionv1.Update && v.specUnchanged(req, so) {
		// KEDA's finalizers, labels, annotations: nothing a trigger depends on changed.
		return admission.Allowed("")
	}
	return v.respond(so, v.engine.Check(ctx, so, check.Mode{DryRunRequest: ptr.Deref(req.DryRun, false)}))
}

// respond turns a verdict into the admission response: what could not be checked is a
// warning or, with --on-unreachable=deny, a denial.
func (v *ScaledObjectValidator) respond(so *kedav1alpha1.ScaledObject, verdict validation.Verdict) admission.Response {
	if !verdict.InScope {
		return admission.Allowed("")
	}
	if whole, ok := verdict.Whole(); ok && len(verdict.Violations) == 0 {
		return v.notValidated(whole.Reason, whole.Message)
	}
	violations, warnings := verdict.Violations, verdict.AllWarnings()
	for _, u := range verdict.Unchecked {
		innokedametrics.AdmissionDegraded.WithLabelValues(webhookValidating, u.Reason).Inc()
		if u.Trigger < 0 { // what violations were found were found without it: they deny
			warnings = append(warnings, u.Message)
			continue
		}
		msg := "the query was not validated: " + u.Message
		if v.onUnreachable == OnUnreachableDeny {
			violations.Add(validation.ReasonNotValidated, validation.Invalid(validation.TriggerPath(u.Trigger), msg+"; innokeda is set to deny what it cannot validate (--on-unreachable=deny)"))
			continue
		}
		warnings = append(warnings, fmt.Sprintf("spec.triggers[%d]: %s", u.Trigger, msg))
	}
	if len(violations) == 0 {
		return admission.Allowed("").WithWarnings(warnings...)
	}
	for _, vl := range violations {
		innokedametrics.ValidationDenials.WithLabelValues(vl.Reason).Inc()
	}
	status := apierrors.NewInvalid(schema.GroupKind{Group: "keda.sh", Kind: "ScaledObject"}, so.Name, violations.ErrorList()).Status()
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status}}.WithWarnings(warnings...)
}

// specUnchanged tells whether an UPDATE leaves the spec as it was.
func (v *ScaledObjectValidator) specUnchanged(req admission.Request, so *kedav1alpha1.ScaledObject) bool {
	old := &kedav1alpha1.ScaledObject{}
	if err := v.decoder.DecodeRaw(req.OldObject, old); err != nil {
		return false
	}
	return equality.Semantic.DeepEqual(old.Spec, so.Spec)
}

// notValidated answers when validation could not happen at all, per --on-unreachable.
func (v *ScaledObjectValidator) notValidated(reason, msg string) admission.Response {
	innokedametrics.AdmissionDegraded.WithLabelValues(webhookValidating, reason).Inc()
	if v.onUnreachable == OnUnreachableDeny {
		innokedametrics.ValidationDenials.WithLabelValues(validation.ReasonNotValidated).Inc()
		return admission.Denied(msg + " (--on-unreachable=deny)")
	}
	return admission.Allowed("").WithWarnings(msg)
}
