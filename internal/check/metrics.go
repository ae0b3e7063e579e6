package check

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Why a trigger, or a whole object, was not checked (validation.Unchecked.Reason), besides
// the dry-run outcomes OutcomeUnreachable, OutcomeTimedOut and OutcomeBusy.
const (
	UncheckedLookupFailed = "lookup-failed"          // the target, cluster or authentication could not be read
	UncheckedCredentials  = "credentials-unreadable" // a Secret or authentication could not be read
	UncheckedServers      = "servers-lookup-failed"  // the cluster's Services and pods could not be read
)

// UncheckedReasons are every validation.Unchecked.Reason the engine gives.
var UncheckedReasons = []string{UncheckedLookupFailed, UncheckedCredentials, UncheckedServers, OutcomeUnreachable, OutcomeTimedOut, OutcomeBusy}

// Dry-run outcomes.
const (
	OutcomeSucceeded   = "succeeded"
	OutcomeRejected    = "rejected"    // the server or KEDA's rules refuse it
	OutcomeUnreachable = "unreachable" // DNS, refused, too many connections
	OutcomeTimedOut    = "timed-out"
	OutcomeBusy        = "busy"       // too many dry-runs at once
	OutcomeNotDialed   = "not-dialed" // the host or the credentials are out of innokeda's reach
	OutcomeRefused     = "refused"    // the guard refused the query for the server's sql_mode
)

var (
	dryRunsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "innokeda_dryrun_total",
		Help: "Dry-runs of mysql triggers' queries, by outcome.",
	}, []string{"outcome"})
	dryRunSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "innokeda_dryrun_duration_seconds",
		Help:    "Time from connecting to MySQL to the end of a dry-run that reached the server.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
)

func init() {
	// Registered once per process on the registry the manager's metrics endpoint serves.
	metrics.Registry.MustRegister(dryRunsTotal, dryRunSeconds)
	for _, outcome := range []string{OutcomeSucceeded, OutcomeRejected, OutcomeUnreachable, OutcomeTimedOut, OutcomeBusy, OutcomeNotDialed, OutcomeRefused} {
		dryRunsTotal.WithLabelValues(outcome)
	}
}
