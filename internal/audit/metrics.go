package audit

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/innokeda/innokeda/internal/metrics"
)

// current is the Auditor whose lag the metric reports.
var current atomic.Pointer[Auditor]

type lagCollector struct{}

func (lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- metrics.AuditLag }

func (lagCollector) Collect(ch chan<- prometheus.Metric) {
	lag := 0.0
	if a := current.Load(); a != nil {
		lag = a.lag(time.Now()).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(metrics.AuditLag, prometheus.GaugeValue, lag)
}

func init() {
	metrics.Register(lagCollector{})
	for _, outcome := range []string{OutcomePassed, OutcomeFailed, OutcomeUnchecked} {
		metrics.AuditRuns.WithLabelValues(outcome)
	}
}
