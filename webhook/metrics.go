package webhook

import (
	"github.com/innokeda/innokeda/internal/autofill"
	"github.com/innokeda/innokeda/internal/check"
	innokedametrics "github.com/innokeda/innokeda/internal/metrics"
	"github.com/innokeda/innokeda/internal/validation"
)

// Reasons a ScaledObject is passed through that autofill.Skip does not cover.
const (
	skipNotCreateOrUpdate autofill.Skip = "operation"
	skipUndecodable       autofill.Skip = "undecodable"
	skipLookupFailed      autofill.Skip = "lookup-failed"
)

// The webhooks.
const (
	webhookMutating   = "mutating"
	webhookValidating = "validating"
)

func init() {
	// Every series at 0 from the start.
	innokedametrics.AdmissionDegraded.WithLabelValues(webhookMutating, check.UncheckedLookupFailed)
	for _, r := range check.UncheckedReasons {
		innokedametrics.AdmissionDegraded.WithLabelValues(webhookValidating, r)
	}
	for _, r := range validation.Reasons {
		innokedametrics.ValidationDenials.WithLabelValues(r)
	}
	for _, reason := range []autofill.Skip{
		skipNotCreateOrUpdate, skipUndecodable, skipLookupFailed, check.SkipTooCostly,
		autofill.SkipBeingDeleted, autofill.SkipTargetKind, autofill.SkipStatefulSetNotFound,
		autofill.SkipNotInnoDBCluster, autofill.SkipClusterNotFound, autofill.SkipNotAnnotated,
	} {
		innokedametrics.AutofillSkips.WithLabelValues(string(reason))
	}
}
