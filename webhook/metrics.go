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
	skipTooCostly         autofill.Skip = "too-costly"
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

	dryRunsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "innokeda_dryrun_total",
		Help: "Dry-runs of mysql triggers' queries, by outcome.",
	}, []string{"outcome"})
	dryRunSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "innokeda_dryrun_duration_seconds",
		Help:    "Time from connecting to MySQL to the end of a dry-run that reached the server.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	degradedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "innokeda_admission_degraded_total",
		Help: "In-scope ScaledObjects innokeda admitted without doing its job in time (mutating: not filled; validating: not validated), by webhook and reason. Alert when it rises.",
	}, []string{"webhook", "reason"})
	denialsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "innokeda_validation_denials_total",
		Help: "Problems for which the validating webhook denied a ScaledObject, by reason.",
	}, []string{"reason"})
)

// The webhooks, and why an in-scope admission was degraded (besides the dry-run outcomes
// unreachable, timed-out and busy).
const (
	webhookMutating      = "mutating"
	webhookValidating    = "validating"
	degradedLookupFailed = "lookup-failed"          // the target, cluster or authentication could not be read
	degradedCredentials  = "credentials-unreadable" // a Secret or authentication could not be read
	degradedServers      = "servers-lookup-failed"  // the cluster's Services and pods could not be read
)

// Dry-run outcomes.
const (
	outcomeSucceeded   = "succeeded"
	outcomeRejected    = "rejected"    // the server or KEDA's rules refuse it
	outcomeUnreachable = "unreachable" // DNS, refused, too many connections
	outcomeTimedOut    = "timed-out"
	outcomeBusy        = "busy"       // too many dry-runs at once
	outcomeNotDialed   = "not-dialed" // the host or the credentials are out of innokeda's reach
	outcomeRefused     = "refused"    // the guard refused the query for the server's sql_mode
)

func init() {
	// Registered once per process on the registry the manager's metrics endpoint serves.
	metrics.Registry.MustRegister(fillsTotal, skipsTotal, dryRunsTotal, dryRunSeconds, degradedTotal, denialsTotal)
	for _, r := range []string{degradedLookupFailed} {
		degradedTotal.WithLabelValues(webhookMutating, r)
	}
	for _, r := range []string{degradedLookupFailed, degradedCredentials, degradedServers, outcomeUnreachable, outcomeTimedOut, outcomeBusy} {
		degradedTotal.WithLabelValues(webhookValidating, r)
	}
	for _, outcome := range []string{outcomeSucceeded, outcomeRejected, outcomeUnreachable, outcomeTimedOut, outcomeBusy, outcomeNotDialed, outcomeRefused} {
		dryRunsTotal.WithLabelValues(outcome)
	}
	for _, reason := range []autofill.Skip{
		skipNotCreateOrUpdate, skipUndecodable, skipLookupFailed,
		autofill.SkipBeingDeleted, autofill.SkipTargetKind, autofill.SkipStatefulSetNotFound,
		autofill.SkipNotInnoDBCluster, autofill.SkipClusterNotFound, autofill.SkipNotAnnotated,
	} {
		skipsTotal.WithLabelValues(string(reason))
	}
}
