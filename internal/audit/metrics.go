package audit

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	runsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "innokeda_audit_runs_total",
		Help: "Audits of ScaledObjects, by outcome: passed, failed (KEDA would fail on it), unchecked (MySQL or the API did not answer in time).",
	}, []string{"outcome"})
	failingGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "innokeda_audit_failing",
		Help: "ScaledObjects whose last audit failed. Only the leader audits: other replicas report 0.",
	})
	auditedGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "innokeda_audit_scaledobjects",
		Help: "ScaledObjects in scope of the audit (targets of annotated InnoDBClusters) that it has audited.",
	})
	rateWaitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "innokeda_audit_rate_wait_seconds",
		Help:    "How long an audit waited for its turn under --audit-rate. Waits near --audit-interval mean the rate is too low for the ScaledObjects in scope.",
		Buckets: []float64{.01, .1, 1, 10, 30, 60, 120, 300, 600, 1800},
	})
)

func init() {
	metrics.Registry.MustRegister(runsTotal, failingGauge, auditedGauge, rateWaitSeconds)
	for _, outcome := range []string{OutcomePassed, OutcomeFailed, OutcomeUnchecked} {
		runsTotal.WithLabelValues(outcome)
	}
}
