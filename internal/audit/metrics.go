package audit

import (
	"sync/atomic"
	"time"

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
	clusterPacedTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "innokeda_audit_cluster_paced_total",
		Help: "Audits put off because their InnoDBCluster had had its share of --audit-cluster-rate: each is requeued for the cluster's next turn.",
	})
)

// lagDesc: how far the audit is behind its interval, computed at each scrape.
var lagDesc = prometheus.NewDesc("innokeda_audit_lag_seconds",
	"How much longer ago than --audit-interval the ScaledObject audited longest ago was audited: 0 while every one is audited within an interval; rising when --audit-rate is too low for the ScaledObjects in scope, or --audit-cluster-rate for those of one cluster. Only the leader audits: other replicas report 0.", nil, nil)

// current is the Auditor whose lag the metric reports.
var current atomic.Pointer[Auditor]

type lagCollector struct{}

func (lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

func (lagCollector) Collect(ch chan<- prometheus.Metric) {
	lag := 0.0
	if a := current.Load(); a != nil {
		lag = a.lag(time.Now()).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, lag)
}

func init() {
	metrics.Registry.MustRegister(runsTotal, failingGauge, auditedGauge, rateWaitSeconds, clusterPacedTotal, lagCollector{})
	for _, outcome := range []string{OutcomePassed, OutcomeFailed, OutcomeUnchecked} {
		runsTotal.WithLabelValues(outcome)
	}
}
