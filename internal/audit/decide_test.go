package audit

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/innokeda/innokeda/internal/validation"
)

func failing(details ...string) validation.Verdict {
	v := validation.Verdict{InScope: true}
	for _, d := range details {
		v.Violations.Add(validation.ReasonServerRejected, validation.Invalid(field.NewPath("spec", "triggers").Index(0).Child("metadata", "query"), d))
	}
	return v
}

func TestDecide(t *testing.T) {
	const interval = 5 * time.Minute
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	dropped := failing("MySQL rejected the query: Error 1146 (42S02): Table 'testdb.jobs' doesn't exist")
	droppedNote := "KEDA would fail on this ScaledObject: spec.triggers[0].metadata.query: Invalid value: MySQL rejected the query: Error 1146 (42S02): Table 'testdb.jobs' doesn't exist"
	passing := validation.Verdict{InScope: true, Warnings: []string{"spec.triggers[0]: dry-run returned 2 in 1ms"}}
	timedOut := validation.Verdict{InScope: true, Unchecked: []validation.Unchecked{{Trigger: 0, Reason: "timed-out", Message: "timed out"}}}
	lookupFailed := validation.Verdict{InScope: true, Unchecked: []validation.Unchecked{{Trigger: -1, Reason: "lookup-failed", Message: "no cache"}}}
	failed := standing{failing: true, note: droppedNote, warned: t0}

	tests := []struct {
		name        string
		previous    standing
		verdict     validation.Verdict
		now         time.Time
		wantOutcome string
		wantEvent   *notice
		wantNext    standing
	}{
		{"a first pass says nothing", standing{}, passing, t0, OutcomePassed, nil, standing{}},
		{"a first failure warns with the denial's words", standing{}, dropped, t0, OutcomeFailed,
			&notice{corev1.EventTypeWarning, ReasonFailed, droppedNote}, failed},
		{"the same failure within the interval is not repeated", failed, dropped, t0.Add(interval - time.Second), OutcomeFailed, nil, failed},
		{"the same failure an interval later is repeated", failed, dropped, t0.Add(interval), OutcomeFailed,
			&notice{corev1.EventTypeWarning, ReasonFailed, droppedNote}, standing{failing: true, note: droppedNote, warned: t0.Add(interval)}},
		{"another failure is said at once", failed, failing("MySQL refused the connection"), t0.Add(time.Second), OutcomeFailed,
			&notice{corev1.EventTypeWarning, ReasonFailed, "KEDA would fail on this ScaledObject: spec.triggers[0].metadata.query: Invalid value: MySQL refused the connection"},
			standing{failing: true, note: "KEDA would fail on this ScaledObject: spec.triggers[0].metadata.query: Invalid value: MySQL refused the connection", warned: t0.Add(time.Second)}},
		{"a pass after a failure says so, with what the dry-run returned", failed, passing, t0.Add(time.Minute), OutcomePassed,
			&notice{corev1.EventTypeNormal, ReasonPassed, "The ScaledObject passes innokeda's checks again: spec.triggers[0]: dry-run returned 2 in 1ms"}, standing{}},
		{"a timed-out dry-run keeps a failure as it was", failed, timedOut, t0.Add(time.Hour), OutcomeUnchecked, nil, failed},
		{"a timed-out dry-run keeps a pass as it was", standing{}, timedOut, t0, OutcomeUnchecked, nil, standing{}},
		{"a query not dry-run (no ready member to dial) is no pass", failed,
			validation.Verdict{InScope: true, NotDryRun: 1, Warnings: []string{"spec.triggers[0]: not dry-run: no pod"}}, t0.Add(time.Minute), OutcomeUnchecked, nil, failed},
		{"a failed lookup is no verdict, whatever else", failed, lookupFailed, t0.Add(time.Hour), OutcomeUnchecked, nil, failed},
		{"a violation beside an unchecked trigger is a failure", standing{},
			validation.Verdict{InScope: true, Violations: dropped.Violations, Unchecked: timedOut.Unchecked}, t0, OutcomeFailed,
			&notice{corev1.EventTypeWarning, ReasonFailed, droppedNote}, failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outcome, ev, next := decide(tc.previous, tc.verdict, tc.now, interval)
			if outcome != tc.wantOutcome {
				t.Errorf("outcome = %q, want %q", outcome, tc.wantOutcome)
			}
			if diff := cmp.Diff(tc.wantEvent, ev, cmp.AllowUnexported(notice{})); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantNext, next, cmp.AllowUnexported(standing{})); diff != "" {
				t.Errorf("next standing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotesFitTheEventsAPI(t *testing.T) {
	long := failing(strings.Repeat("é", 2000))
	_, ev, _ := decide(standing{}, long, time.Now(), time.Minute)
	if len(ev.note) > maxNoteBytes || !strings.HasSuffix(ev.note, "...") || !strings.HasPrefix(ev.note, "KEDA would fail on this ScaledObject: ") {
		t.Errorf("note of %d bytes: %q...", len(ev.note), ev.note[:80])
	}
	if !utf8.ValidString(ev.note) {
		t.Error("the note was cut inside a character")
	}
	short := "fits"
	if got := truncate(short); got != short {
		t.Errorf("truncate(%q) = %q", short, got)
	}
}
