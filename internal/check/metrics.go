package check

import (
	"github.com/innokeda/innokeda/internal/metrics"
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

func init() {
	// Every outcome's series at 0 from the start.
	for _, outcome := range []string{OutcomeSucceeded, OutcomeRejected, OutcomeUnreachable, OutcomeTimedOut, OutcomeBusy, OutcomeNotDialed, OutcomeRefused} {
		metrics.DryRuns.WithLabelValues(outcome)
	}
}
