package controller

import (
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"

	"github.com/innokeda/innokeda/internal/metrics"
)

// Events are sent by client-go one goroutine each, every one waiting for the event client's
// rate limiter: with thousands of annotated clusters, the first reconciles queued thousands
// of events and held about 50 MiB. innokeda passes events on at a bounded rate instead,
// below what the client sends, and counts what it drops. Warnings have their own, larger
// budget, so routine Normal events never crowd one out.
const (
	normalEventsPerSecond  = 10
	warningEventsPerSecond = 20
	eventBurst             = 100
)

func init() {
	for _, t := range []string{corev1.EventTypeNormal, corev1.EventTypeWarning} {
		metrics.EventsDropped.WithLabelValues(t)
	}
}

// throttledRecorder passes events on to next within a budget per event type.
type throttledRecorder struct {
	next             events.EventRecorder
	normal, warnings *rate.Limiter
}

var _ events.EventRecorder = throttledRecorder{}

func newThrottledRecorder(next events.EventRecorder) throttledRecorder {
	return throttledRecorder{
		next:     next,
		normal:   rate.NewLimiter(normalEventsPerSecond, eventBurst),
		warnings: rate.NewLimiter(warningEventsPerSecond, eventBurst),
	}
}

// Eventf implements events.EventRecorder.
func (r throttledRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...interface{}) {
	limiter := r.normal
	if eventtype == corev1.EventTypeWarning {
		limiter = r.warnings
	}
	if !limiter.Allow() {
		metrics.EventsDropped.WithLabelValues(eventtype).Inc()
		return
	}
	r.next.Eventf(regarding, related, eventtype, reason, action, note, args...)
}
