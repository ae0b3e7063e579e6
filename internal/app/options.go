// Package app builds and runs the innokeda manager: options and flags, the scheme, the
// cache, and the webhooks and controllers that make up innokeda.
package app

import (
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/innokeda/innokeda/internal/controller"
	"github.com/innokeda/innokeda/internal/servingcert"
	"github.com/innokeda/innokeda/internal/validation"
)

// maxServingReplicas bounds --serving-replicas: the connection limit it sizes grows with
// it, and no webhook needs more replicas than this.
const maxServingReplicas = 64

// Options configure the innokeda manager. Each has a command-line flag of the same name.
type Options struct {
	Kubeconfig             string
	WebhookPort            int
	WebhookCertDir         string
	MetricsBindAddress     string
	HealthProbeBindAddress string
	PprofBindAddress       string
	LeaderElect            bool
	LeaderElectionID       string
	LeaderElectionNS       string
	ClusterDomain          string
	EnableHTTP2            bool
	Zap                    zap.Options

	// Namespace is innokeda's own: the serving certificate's Secret, and the leader
	// election Lease unless LeaderElectionNS says otherwise.
	Namespace string
	// MetricsSecure serves /metrics over HTTPS to callers the API server authenticates and
	// authorizes (get on the non-resource URL /metrics).
	MetricsSecure bool
	// CertRotation has innokeda issue and rotate its own serving certificate (package
	// servingcert) instead of reading one from WebhookCertDir.
	CertRotation bool
	CertSecret   string
	// The Services the certificate must be valid for, and any further DNS names.
	WebhookService    string
	MetricsService    string
	CertExtraDNSNames []string
	// The webhook configurations whose caBundle the rotation keeps.
	MutatingWebhookConfiguration   string
	ValidatingWebhookConfiguration string
	CertValidity                   time.Duration
	CertRenewBefore                time.Duration
	CertCheckInterval              time.Duration

	DryRunTimeout        time.Duration
	OnUnreachable        string
	MaxConcurrentDryRuns int
	// ServingReplicas is how many replicas of innokeda serve the webhooks (the
	// Deployment's replicas), each running up to MaxConcurrentDryRuns dry-runs: the managed
	// scaler account's connection limit leaves room for all of them.
	ServingReplicas    int
	KEDANamespace      string
	DryRunHostAliases  map[string]string
	DryRunAllowedHosts []string
	// MaxMySQLTriggers and MaxQueryBytes bound what one ScaledObject may cost to check.
	MaxMySQLTriggers int
	MaxQueryBytes    int

	// AuditInterval is how often the leader audits each ScaledObject in scope again; 0
	// turns the audit off. AuditRate bounds the audits begun per second in all,
	// AuditClusterRate those of any one InnoDBCluster's ScaledObjects.
	AuditInterval    time.Duration
	AuditRate        float64
	AuditClusterRate float64

	// The rate limits of the controller's (and the cache's) API client.
	KubeAPIQPS   float64
	KubeAPIBurst int
	// The webhooks' own API client, for the Secrets they read: its rate limits, and how long
	// a Secret read is reused.
	AdmissionAPIQPS   float64
	AdmissionAPIBurst int
	SecretCacheTTL    time.Duration

	// ScalerAccounts lets the controller keep least-privilege MySQL accounts for clusters
	// annotated innokeda.io/scaler-account: managed. Off by default in the binary: it needs
	// RBAC to write Secrets, which the Helm chart grants with scalerAccounts.enabled.
	ScalerAccounts bool

	// WebhookHost is the address the webhook server binds to; empty means every
	// interface. It has no flag: tests bind to loopback.
	WebhookHost string
	// Controller tunes the InnoDBCluster controller's backoff and resync; no flags.
	Controller controller.Options
	// SeveralManagers lets one process build more than one manager (tests do), which
	// controller-runtime refuses by default for the sake of its per-controller metrics.
	// It has no flag.
	SeveralManagers bool
}

// DefaultOptions returns the defaults the flags document.
func DefaultOptions() Options {
	return Options{
		WebhookPort:            9443,
		WebhookCertDir:         "/tmp/k8s-webhook-server/serving-certs",
		MetricsBindAddress:     ":8080",
		HealthProbeBindAddress: ":8081",
		PprofBindAddress:       "0",
		LeaderElectionID:       "innokeda.io",
		ClusterDomain:          "cluster.local",
		// The chart and the kustomize base set it from the downward API.
		Namespace:                      os.Getenv("POD_NAMESPACE"),
		CertSecret:                     "innokeda-webhook-tls",
		WebhookService:                 "innokeda-webhook",
		MetricsService:                 "innokeda-metrics",
		MutatingWebhookConfiguration:   "innokeda-mutating",
		ValidatingWebhookConfiguration: "innokeda-validating",
		CertValidity:                   365 * 24 * time.Hour,
		CertRenewBefore:                30 * 24 * time.Hour,
		CertCheckInterval:              time.Hour,
		DryRunTimeout:                  2 * time.Second,
		OnUnreachable:                  "warn",
		MaxConcurrentDryRuns:           4,
		ServingReplicas:                2,
		MaxMySQLTriggers:               validation.DefaultLimits.MaxMySQLTriggers,
		MaxQueryBytes:                  validation.DefaultLimits.MaxQueryBytes,
		KEDANamespace:                  "keda",
		AuditInterval:                  5 * time.Minute,
		AuditRate:                      20,
		AuditClusterRate:               0.5,
		KubeAPIQPS:                     50,
		KubeAPIBurst:                   100,
		AdmissionAPIQPS:                100,
		AdmissionAPIBurst:              200,
		SecretCacheTTL:                 5 * time.Second,
		Controller:                     controller.DefaultOptions(),
	}
}

// BindFlags registers the options on fs. innokeda uses its own FlagSet: controller-runtime
// registers --kubeconfig on the global one.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Path to a kubeconfig. Empty: $KUBECONFIG, then the in-cluster configuration.")
	fs.IntVar(&o.WebhookPort, "webhook-port", o.WebhookPort, "Port the admission webhook server listens on (TLS).")
	fs.StringVar(&o.WebhookCertDir, "webhook-cert-dir", o.WebhookCertDir, "Directory with the webhook server's tls.crt and tls.key; they are reloaded when they change. With --cert-rotation, innokeda writes them there.")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, "Address of the Prometheus metrics endpoint; \"0\" turns it off.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress, "Address of the /healthz and /readyz endpoints.")
	fs.StringVar(&o.PprofBindAddress, "pprof-bind-address", o.PprofBindAddress, "Address of Go's /debug/pprof endpoints, for profiling; \"0\" (the default) turns them off.")
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "Elect a leader among replicas before running controllers; every replica serves webhooks.")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID, "Name of the Lease used for leader election.")
	fs.StringVar(&o.LeaderElectionNS, "leader-election-namespace", o.LeaderElectionNS, "Namespace of the leader election Lease; defaults to --namespace.")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "innokeda's own namespace, where its serving certificate's Secret and its Lease live; defaults to $POD_NAMESPACE.")
	fs.BoolVar(&o.MetricsSecure, "metrics-secure", o.MetricsSecure, "Serve /metrics over HTTPS, only to callers the API server authenticates (TokenReview) and authorizes (SubjectAccessReview: get on /metrics). Uses the webhooks' serving certificate.")
	fs.BoolVar(&o.CertRotation, "cert-rotation", o.CertRotation, "Issue and rotate the serving certificate in-process: a CA and a certificate in the Secret --cert-secret (which must exist; it may be empty), the CA put into both webhook configurations' caBundle. Off: read tls.crt and tls.key from --webhook-cert-dir (cert-manager).")
	fs.StringVar(&o.CertSecret, "cert-secret", o.CertSecret, "Secret in --namespace that holds the rotated CA and serving certificate.")
	fs.StringVar(&o.WebhookService, "webhook-service", o.WebhookService, "Service of the webhooks, in --namespace: the serving certificate is valid for its cluster DNS names.")
	fs.StringVar(&o.MetricsService, "metrics-service", o.MetricsService, "Service of /metrics, in --namespace: the serving certificate is valid for its cluster DNS names too.")
	fs.Func("cert-extra-dns-name", "A further DNS name the rotated serving certificate is valid for, for webhooks reached by URL (repeatable).", appendName(&o.CertExtraDNSNames, "DNS name"))
	fs.StringVar(&o.MutatingWebhookConfiguration, "mutating-webhook-configuration", o.MutatingWebhookConfiguration, "MutatingWebhookConfiguration whose caBundle --cert-rotation keeps.")
	fs.StringVar(&o.ValidatingWebhookConfiguration, "validating-webhook-configuration", o.ValidatingWebhookConfiguration, "ValidatingWebhookConfiguration whose caBundle --cert-rotation keeps.")
	fs.DurationVar(&o.CertValidity, "cert-validity", o.CertValidity, "How long each rotated serving certificate is valid (the CA, 10 years).")
	fs.DurationVar(&o.CertRenewBefore, "cert-renew-before", o.CertRenewBefore, "Issue a new serving certificate when less than this is left of the current one.")
	fs.DurationVar(&o.CertCheckInterval, "cert-check-interval", o.CertCheckInterval, "How often the rotation looks at the serving certificate's expiry.")
	fs.StringVar(&o.ClusterDomain, "cluster-domain", o.ClusterDomain, "DNS domain of the Kubernetes cluster, used in the MySQL host names innokeda fills in.")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", o.EnableHTTP2, "Serve webhooks over HTTP/2 too. Off by default: HTTP/2 rapid-reset and stream-cancellation attacks (CVE-2023-44487, CVE-2023-39325).")
	fs.DurationVar(&o.DryRunTimeout, "dry-run-timeout", o.DryRunTimeout, "Time budget for validating one ScaledObject, dry-runs of its queries included.")
	fs.StringVar(&o.OnUnreachable, "on-unreachable", o.OnUnreachable, "When a query cannot be dry-run (server unreachable, too slow, too busy): \"warn\" admits with a warning, \"deny\" denies.")
	fs.IntVar(&o.MaxConcurrentDryRuns, "dry-run-max-concurrent", o.MaxConcurrentDryRuns, "Most dry-runs (MySQL connections) at once; more wait, within the time budget.")
	fs.IntVar(&o.ServingReplicas, "serving-replicas", o.ServingReplicas, "How many replicas of innokeda serve the webhooks: the Deployment's replicas (the chart sets it from replicaCount). The managed scaler account's MAX_USER_CONNECTIONS leaves room for each one's --dry-run-max-concurrent dry-runs; a replica beyond it finds the limit reached and admits unvalidated.")
	fs.IntVar(&o.MaxMySQLTriggers, "max-mysql-triggers", o.MaxMySQLTriggers, "Most mysql triggers in one ScaledObject; one with more is denied before any of its checks run.")
	fs.IntVar(&o.MaxQueryBytes, "max-query-bytes", o.MaxQueryBytes, "Most bytes of mysql queries in one ScaledObject, all its triggers together; one with more is denied before any of its checks run.")
	fs.StringVar(&o.KEDANamespace, "keda-namespace", o.KEDANamespace, "KEDA's namespace, where the Secrets of ClusterTriggerAuthentications live.")
	fs.Func("dry-run-host-alias", "NAME=ADDRESS:PORT: dial ADDRESS:PORT when a dry-run is allowed to connect to host NAME (for tests and the demo; repeatable). Applied after the checks of NAME, so it never widens which hosts are allowed.", func(s string) error {
		name, addr, ok := strings.Cut(s, "=")
		if _, _, err := net.SplitHostPort(addr); !ok || name == "" || err != nil {
			return fmt.Errorf("want NAME=ADDRESS:PORT, got %q", s)
		}
		if o.DryRunHostAliases == nil {
			o.DryRunHostAliases = map[string]string{}
		}
		o.DryRunHostAliases[strings.ToLower(strings.TrimSuffix(name, "."))] = addr
		return nil
	})
	fs.Func("dry-run-allowed-host", "A further host name dry-runs may connect to, by DNS, beyond the target InnoDBCluster's own services (repeatable).", appendName(&o.DryRunAllowedHosts, "host name"))
	fs.DurationVar(&o.AuditInterval, "audit-interval", o.AuditInterval, "How often the leader checks each ScaledObject in scope again, as the validating webhook would (dry-run included), and emits AuditFailed/AuditPassed Events on it; 0 turns the audit off.")
	fs.Float64Var(&o.AuditRate, "audit-rate", o.AuditRate, "Most audits begun per second in all; keep it above the ScaledObjects in scope divided by --audit-interval in seconds. Audits use at most half of --dry-run-max-concurrent.")
	fs.Float64Var(&o.AuditClusterRate, "audit-cluster-rate", o.AuditClusterRate, "Most audits begun per second of the ScaledObjects of any one InnoDBCluster (each audit dry-runs its queries on that cluster's MySQL); keep it above the most ScaledObjects one cluster has divided by --audit-interval in seconds.")
	fs.Float64Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS, "Requests per second the controller's API client may make (watches excepted).")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst, "Burst of the controller's API client.")
	fs.Float64Var(&o.AdmissionAPIQPS, "admission-api-qps", o.AdmissionAPIQPS, "Requests per second the webhooks' own API client may make (it reads Secrets for dry-runs); the controller's client is separate.")
	fs.IntVar(&o.AdmissionAPIBurst, "admission-api-burst", o.AdmissionAPIBurst, "Burst of the webhooks' own API client.")
	fs.DurationVar(&o.SecretCacheTTL, "secret-cache-ttl", o.SecretCacheTTL, "How long a Secret the webhooks read is reused (in memory only, never logged); 0 reads it for every admission.")
	fs.BoolVar(&o.ScalerAccounts, "scaler-accounts", o.ScalerAccounts, "Keep a least-privilege MySQL account, and the Secret holding its password, for each InnoDBCluster annotated innokeda.io/scaler-account: managed (needs create, update and delete on Secrets).")
	o.Zap.BindFlags(fs)
}

// appendName is a repeatable flag that adds each non-empty value to names.
func appendName(names *[]string, what string) func(string) error {
	return func(s string) error {
		if s == "" {
			return fmt.Errorf("empty %s", what)
		}
		*names = append(*names, s)
		return nil
	}
}

// The ceilings of --max-mysql-triggers and --max-query-bytes: above them, parsing one
// ScaledObject's queries alone could take a good part of the budget.
const (
	hardMaxMySQLTriggers = 64
	hardMaxQueryBytes    = 256 << 10
)

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	if o.WebhookPort <= 0 || o.WebhookPort > 65535 {
		return fmt.Errorf("--webhook-port %d is not a port number", o.WebhookPort)
	}
	if o.ClusterDomain == "" {
		return fmt.Errorf("--cluster-domain must not be empty")
	}
	if o.OnUnreachable != "warn" && o.OnUnreachable != "deny" {
		return fmt.Errorf("--on-unreachable must be warn or deny, not %q", o.OnUnreachable)
	}
	if o.DryRunTimeout <= 0 {
		return fmt.Errorf("--dry-run-timeout must be positive, not %v", o.DryRunTimeout)
	}
	for _, limit := range []struct {
		name  string
		qps   float64
		burst int
	}{{"kube-api", o.KubeAPIQPS, o.KubeAPIBurst}, {"admission-api", o.AdmissionAPIQPS, o.AdmissionAPIBurst}} {
		if limit.qps <= 0 || limit.burst < 1 {
			return fmt.Errorf("--%s-qps must be positive and --%s-burst at least 1, not %v and %d", limit.name, limit.name, limit.qps, limit.burst)
		}
	}
	if o.SecretCacheTTL < 0 {
		return fmt.Errorf("--secret-cache-ttl must not be negative, not %v", o.SecretCacheTTL)
	}
	if o.CertRotation {
		if err := o.servingCertificate().Validate(); err != nil {
			return fmt.Errorf("--cert-rotation: %w", err)
		}
	}
	if o.AuditInterval < 0 {
		return fmt.Errorf("--audit-interval must not be negative (0 turns the audit off), not %v", o.AuditInterval)
	}
	for _, r := range []struct {
		flag  string
		value float64
	}{{"audit-rate", o.AuditRate}, {"audit-cluster-rate", o.AuditClusterRate}} {
		if o.AuditInterval > 0 && (!(r.value > 0) || math.IsInf(r.value, 1)) {
			return fmt.Errorf("--%s must be a positive number, not %v", r.flag, r.value)
		}
	}
	if o.MaxMySQLTriggers < 1 || o.MaxQueryBytes < 1 {
		return fmt.Errorf("--max-mysql-triggers and --max-query-bytes must be at least 1, not %d and %d", o.MaxMySQLTriggers, o.MaxQueryBytes)
	}
	if o.MaxMySQLTriggers > hardMaxMySQLTriggers || o.MaxQueryBytes > hardMaxQueryBytes {
		return fmt.Errorf("--max-mysql-triggers and --max-query-bytes must be at most %d and %d, so that checking one ScaledObject stays within --dry-run-timeout, not %d and %d", hardMaxMySQLTriggers, hardMaxQueryBytes, o.MaxMySQLTriggers, o.MaxQueryBytes)
	}
	if o.MaxConcurrentDryRuns < 1 {
		return fmt.Errorf("--dry-run-max-concurrent must be at least 1, not %d", o.MaxConcurrentDryRuns)
	}
	if o.ServingReplicas < 1 || o.ServingReplicas > maxServingReplicas {
		return fmt.Errorf("--serving-replicas must be between 1 and %d (the Deployment's replicas), not %d", maxServingReplicas, o.ServingReplicas)
	}
	if o.AuditInterval > 0 && o.MaxConcurrentDryRuns < 2 {
		return fmt.Errorf("the audit takes at most half of --dry-run-max-concurrent, so that admissions keep the rest: set it to at least 2, not %d, or turn the audit off with --audit-interval=0", o.MaxConcurrentDryRuns)
	}
	return nil
}

// servingCertificate is what --cert-rotation issues, and where.
func (o *Options) servingCertificate() servingcert.Options {
	names := servingcert.ServiceDNSNames(o.Namespace, o.ClusterDomain, o.WebhookService, o.MetricsService)
	return servingcert.Options{
		Namespace:         o.Namespace,
		SecretName:        o.CertSecret,
		DNSNames:          append(names, o.CertExtraDNSNames...),
		MutatingWebhook:   o.MutatingWebhookConfiguration,
		ValidatingWebhook: o.ValidatingWebhookConfiguration,
		CertDir:           o.WebhookCertDir,
		Validity:          o.CertValidity,
		RenewBefore:       o.CertRenewBefore,
		CheckInterval:     o.CertCheckInterval,
	}
}
