package controller

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"

	"github.com/innokeda/innokeda/internal/metrics"
)

func TestEventsBeyondTheBudgetAreDroppedAndCounted(t *testing.T) {
	fake := events.NewFakeRecorder(1000)
	r := newThrottledRecorder(fake)
	droppedBefore := testutil.ToFloat64(metrics.EventsDropped.WithLabelValues(corev1.EventTypeNormal))
	const sent = eventBurst + 50
	for range sent { // at once: far faster than the budget refills
		r.Eventf(&corev1.Pod{}, nil, corev1.EventTypeNormal, "Created", "Apply", "created")
	}
	// Normal events spent their budget; a Warning still goes through.
	r.Eventf(&corev1.Pod{}, nil, corev1.EventTypeWarning, "Rejected", "Apply", "rejected")
	passed := len(fake.Events)
	dropped := testutil.ToFloat64(metrics.EventsDropped.WithLabelValues(corev1.EventTypeNormal)) - droppedBefore
	if passed < eventBurst+1 || passed > eventBurst+2 { // the burst, maybe one refilled token, the Warning
		t.Errorf("%d events passed, want the burst of %d and the Warning", passed, eventBurst)
	}
	if int(dropped)+passed != sent+1 {
		t.Errorf("%v dropped and %d passed of %d sent: some went uncounted", dropped, passed, sent+1)
	}
	var last string
	for len(fake.Events) > 0 {
		last = <-fake.Events
	}
	if last != "Warning Rejected rejected" {
		t.Errorf("the last event passed is %q, want the Warning", last)
	}
}
