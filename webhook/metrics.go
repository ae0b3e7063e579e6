package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/check"
	"github.com/innokeda/innokeda/internal/validation"
)

// Reasons a ScaledObject is passed through that autofill.Skip does not cover.
const (
	skipNotCreateOrUpdate autofill.Skip = "operation"
	skipUndecodable       autofill.Skip = "undecodable"
	skipLookupFailed      autofill.Skip = "lookup-failed"
)

var (
	fillsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "innokeda_autofill_fills_total",
		Help: "Fields the mutating webhook filled into ScaledObjects, by field.",
	}, []string{"field"})
	skipsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "innokeda_autofill_skips_total",
		Help: "ScaledObjects the mutating webhook left unchanged, by reason.",
	}, []string{"reason"})

	degradedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "innokeda_admission_degraded_total",
		Help: "In-scope ScaledObjects innokeda admitted without doing its job in time (mutating: not filled; validating: not validated), by webhook and reason. Alert when it rises.",
	}, []string{"webhook", "reason"})
	denialsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "innokeda_validation_denials_total",
		Help: "Problems for which the validating webhook denied a ScaledObject, by reason.",
	}, []string{"reason"})
)

// The webhooks.
const (
	webhookMutating   = "mutating"
	webhookValidating = "validating"
)

func init() {
	// Registered once per process on the registry the manager's metrics endpoint serves.
	metrics.Registry.MustRegister(fillsTotal, skipsTotal, degradedTotal, denialsTotal)
	degradedTotal.WithLabelValues(webhookMutating, check.UncheckedLookupFailed)
	for _, r := range check.UncheckedReasons {
		degradedTotal.WithLabelValues(webhookValidating, r)
	}
	for _, r := range validation.Reasons {
		denialsTotal.WithLabelValues(r)
	}
	for _, reason := range []autofill.Skip{
		skipNotCreateOrUpdate, skipUndecodable, skipLookupFailed, check.SkipTooCostly,
		autofill.SkipBeingDeleted, autofill.SkipTargetKind, autofill.SkipStatefulSetNotFound,
		autofill.SkipNotInnoDBCluster, autofill.SkipClusterNotFound, autofill.SkipNotAnnotated,
	} {
		skipsTotal.WithLabelValues(string(reason))
	}
}
