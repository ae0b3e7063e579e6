// Package metrics defines every metric innokeda exports, in one place and under one
// namespace, on the registry the manager's /metrics endpoint serves (controller-runtime's).
// The packages that count import it; the label values each metric starts with are set by
// the package that knows them, so that a series exists, at 0, before its first event.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Namespace is the first part of every innokeda metric's name.
const Namespace = "innokeda"

// The mutating and validating webhooks (package webhook).
var (
	AutofillFills = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "autofill", Name: "fills_total",
		Help: "Fields the mutating webhook filled into ScaledObjects, by field.",
	}, []string{"field"})
	AutofillSkips = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "autofill", Name: "skips_total",
		Help: "ScaledObjects the mutating webhook left unchanged, by reason.",
	}, []string{"reason"})
	AdmissionDegraded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "admission", Name: "degraded_total",
		Help: "In-scope ScaledObjects innokeda admitted without doing its job in time (mutating: not filled; validating: not validated), by webhook and reason. Alert when it rises.",
	}, []string{"webhook", "reason"})
	ValidationDenials = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "validation", Name: "denials_total",
		Help: "Problems for which the validating webhook denied a ScaledObject, by reason.",
	}, []string{"reason"})
)

// The dry-runs of the checking engine (package check), for the webhook and the audit.
var (
	DryRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "dryrun", Name: "total",
		Help: "Dry-runs of mysql triggers' queries, by outcome.",
	}, []string{"outcome"})
	DryRunDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "dryrun", Name: "duration_seconds",
		Help:    "Time from connecting to MySQL to the end of a dry-run that reached the server.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
)

// SecretReads counts the Secrets the webhooks asked for, by where the answer came from
// (package secretcache).
var SecretReads = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: Namespace, Subsystem: "secret", Name: "reads_total",
	Help: "Secrets the webhooks read, by source: api (a read of the API server) or cache (read less than --secret-cache-ttl ago, or shared with a concurrent read).",
}, []string{"source"})

// The InnoDBCluster controller (package controller).
var (
	ScalerAccounts = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "scaler", Name: "accounts",
		Help: "InnoDBClusters whose TriggerAuthentication maps the least-privilege MySQL account innokeda keeps (innokeda.io/scaler-account: managed).",
	})
	// ScalerAccountFailures counts the ScalerAccountFailed Events the controller meant to
	// send (an Event over the budget is dropped, the count is not), by the step that failed.
	ScalerAccountFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "scaler", Name: "account_failures_total",
		Help: "Times the controller could not keep a cluster's scaler account (the Warning Event ScalerAccountFailed), by step: Validate, Grant, FindPrimary, Connect.",
	}, []string{"step"})
	EventsDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "events", Name: "dropped_total",
		Help: "Events the controller did not send because it was emitting them faster than its budget, by type (Normal, Warning).",
	}, []string{"type"})
)

// The continuous audit (package audit).
var (
	AuditRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "audit", Name: "runs_total",
		Help: "Audits of ScaledObjects, by outcome: passed, failed (KEDA would fail on it), unchecked (MySQL or the API did not answer in time).",
	}, []string{"outcome"})
	AuditFailing = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "audit", Name: "failing",
		Help: "ScaledObjects whose last audit failed. Only the leader audits: other replicas report 0.",
	})
	AuditScaledObjects = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "audit", Name: "scaledobjects",
		Help: "ScaledObjects in scope of the audit (targets of annotated InnoDBClusters) that it has audited.",
	})
	AuditRateWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "audit", Name: "rate_wait_seconds",
		Help:    "How long an audit waited for its turn under --audit-rate. Waits near --audit-interval mean the rate is too low for the ScaledObjects in scope.",
		Buckets: []float64{.01, .1, 1, 10, 30, 60, 120, 300, 600, 1800},
	})
	AuditClusterPaced = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "audit", Name: "cluster_paced_total",
		Help: "Audits put off because their InnoDBCluster had had its share of --audit-cluster-rate: each is requeued for the cluster's next turn.",
	})
	// AuditLag is computed at each scrape by the audit's own collector.
	AuditLag = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "audit", "lag_seconds"),
		"How much longer ago than --audit-interval the ScaledObject audited longest ago was audited: 0 while every one is audited within an interval; rising when --audit-rate is too low for the ScaledObjects in scope, or --audit-cluster-rate for those of one cluster. Only the leader audits: other replicas report 0.", nil, nil)
)

// ServingCertificateExpiry is read from the serving certificate at each scrape by package
// servingcert's collector.
var ServingCertificateExpiry = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "serving_certificate", "expiry_timestamp_seconds"),
	"When the certificate in --webhook-cert-dir (the webhooks' and /metrics' serving certificate) expires, in seconds since the epoch; absent while there is none.", nil, nil)

func init() {
	crmetrics.Registry.MustRegister(
		AutofillFills, AutofillSkips, AdmissionDegraded, ValidationDenials,
		DryRuns, DryRunDuration, SecretReads,
		ScalerAccounts, ScalerAccountFailures, EventsDropped,
		AuditRuns, AuditFailing, AuditScaledObjects, AuditRateWait, AuditClusterPaced,
	)
}

// Register adds a collector of a package's own (one that computes its metrics at each
// scrape from that package's state, with a Desc above) to the same registry.
func Register(c prometheus.Collector) { crmetrics.Registry.MustRegister(c) }
