// Package audit checks admitted ScaledObjects again, on the leader, every interval: the
// world moves after admission (a password is rotated, a table dropped, a grant revoked)
// and KEDA may keep reporting Ready on an old connection. It checks each exactly as the
// validating webhook does and says what it finds in Events and metrics; it never writes
// the ScaledObject or KEDA's status.
package audit

import (
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"github.com/innokeda/innokeda/internal/validation"
)

// Event reasons, on the ScaledObject.
const (
	ReasonFailed = "AuditFailed"
	ReasonPassed = "AuditPassed"
)

// action is the events API's action of every audit event.
const action = "Audit"

// Outcomes of one audit, the label of innokeda_audit_runs_total.
const (
	OutcomePassed    = "passed"
	OutcomeFailed    = "failed"
	OutcomeUnchecked = "unchecked" // MySQL or the API did not answer: no verdict either way
)

// maxNoteBytes is the events API's limit on a note (events.k8s.io/v1 validation refuses
// longer ones, and the Event would be lost).
const maxNoteBytes = 1024

// standing is what the audit last concluded about one ScaledObject.
type standing struct {
	// audited is when it was last audited (set by Auditor.record).
	audited time.Time
	failing bool
	// note and warned are those of the last AuditFailed event.
	note   string
	warned time.Time
}

// notice is one Event to emit about the ScaledObject.
type notice struct {
	eventType, reason, note string
}

// decide turns a verdict into the outcome, the Event to emit (if any) and the new standing,
// given the previous one (the zero standing for a ScaledObject not audited yet, which
// counts as passing). A failure is announced when it starts or changes, and repeated no
// more often than once per interval; a pass only when it ends a failure. A verdict with
// parts unchecked or not dry-run and nothing wrong changes nothing: a server that does not
// answer is the cluster's alert, not every ScaledObject's, and static checks alone do not
// show that a query works.
func decide(previous standing, verdict validation.Verdict, now time.Time, interval time.Duration) (outcome string, ev *notice, next standing) {
	_, whole := verdict.Whole()
	switch {
	case len(verdict.Violations) > 0: // found without what could not be checked: they stand
		note := truncate("KEDA would fail on this ScaledObject: " + verdict.Violations.Message())
		next = standing{failing: true, note: previous.note, warned: previous.warned}
		if !previous.failing || note != previous.note || now.Sub(previous.warned) >= interval {
			ev = &notice{eventType: corev1.EventTypeWarning, reason: ReasonFailed, note: note}
			next.note, next.warned = note, now
		}
		return OutcomeFailed, ev, next
	case whole || len(verdict.Unchecked) > 0 || verdict.NotDryRun > 0:
		return OutcomeUnchecked, nil, previous
	}
	if previous.failing {
		ev = &notice{eventType: corev1.EventTypeNormal, reason: ReasonPassed, note: truncate(passedNote(verdict.AllWarnings()))}
	}
	return OutcomePassed, ev, standing{}
}

// passedNote says the ScaledObject works again, with what the dry-runs returned.
func passedNote(warnings []string) string {
	note := "The ScaledObject passes innokeda's checks again"
	if len(warnings) > 0 {
		note += ": " + strings.Join(warnings, "; ")
	}
	return note
}

// truncate cuts note to the events API's limit, on a rune boundary.
func truncate(note string) string {
	const ellipsis = "..."
	if len(note) <= maxNoteBytes {
		return note
	}
	cut := maxNoteBytes - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(note[cut]) {
		cut--
	}
	return note[:cut] + ellipsis
}
