package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/innokeda/innokeda/internal/autofill"
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
)

func init() {
	// Registered once per process on the registry the manager's metrics endpoint serves.
	metrics.Registry.MustRegister(fillsTotal, skipsTotal)
	for _, reason := range []autofill.Skip{
		skipNotCreateOrUpdate, skipUndecodable, skipLookupFailed,
		autofill.SkipBeingDeleted, autofill.SkipTargetKind, autofill.SkipStatefulSetNotFound,
		autofill.SkipNotInnoDBCluster, autofill.SkipClusterNotFound, autofill.SkipNotAnnotated,
	} {
		skipsTotal.WithLabelValues(string(reason))
	}
}
