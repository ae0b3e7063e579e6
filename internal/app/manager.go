package app

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/innokeda/innokeda/internal/audit"
	"github.com/innokeda/innokeda/internal/controller"
	"github.com/innokeda/innokeda/internal/dryrun"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/lint"
	"github.com/innokeda/innokeda/internal/secretcache"
	"github.com/innokeda/innokeda/internal/servingcert"
	"github.com/innokeda/innokeda/internal/validation"
	innokedawebhook "github.com/innokeda/innokeda/webhook"
)

// NewScheme returns a scheme with the Kubernetes, KEDA and InnoDBCluster types innokeda uses.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, kedav1alpha1.AddToScheme, innodbcluster.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// maxCachedSecrets bounds the Secrets the webhooks hold at once (each for --secret-cache-ttl).
const maxCachedSecrets = 1024

// NewManager builds the innokeda manager with its webhooks registered.
func NewManager(cfg *rest.Config, o Options) (manager.Manager, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	// Each client gets its own explicit limits, however the configuration was loaded (a
	// kubeconfig leaves client-go's 5 QPS; controller-runtime's in-cluster loader, none).
	loaded := cfg
	cfg = withLimits(loaded, o.KubeAPIQPS, o.KubeAPIBurst)
	// Only the operator's StatefulSets, Services and pods are cached (those labelled
	// mysql.oracle.com/cluster): a cluster's others are none of innokeda's business. The
	// label is no proof: the dry-run also checks the owners (dryrun.ClusterServers).
	operatorOwned, err := labels.NewRequirement(innodbcluster.ClusterLabel, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	operatorLabelled := cache.ByObject{Label: labels.NewSelector().Add(*operatorOwned)}
	var tlsOpts []func(*tls.Config)
	if !o.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	// With rotation, both servers serve the Secret's certificate from memory; otherwise
	// each watches the files in --webhook-cert-dir.
	var certificate *servingcert.Source
	servingcert.WatchExpiry(o.WebhookCertDir)
	if o.CertRotation {
		certificate = servingcert.NewSource(o.WebhookCertDir)
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.GetCertificate = certificate.GetCertificate })
	}
	metrics := metricsserver.Options{BindAddress: o.MetricsBindAddress}
	if o.MetricsSecure {
		metrics.SecureServing = true
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
		metrics.TLSOpts = tlsOpts
		metrics.CertDir, metrics.CertName, metrics.KeyName = o.WebhookCertDir, servingcert.CertKey, servingcert.KeyKey
	}
	leaderElectionNS := o.LeaderElectionNS
	if leaderElectionNS == "" {
		leaderElectionNS = o.Namespace
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		Cache: cache.Options{
			// Managed fields are most of an applied object's size and nothing innokeda reads.
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&appsv1.StatefulSet{}: operatorLabelled,
				&corev1.Service{}:     operatorLabelled,
				&corev1.Pod{}:         operatorLabelled,
			}},
		Metrics:                 metrics,
		Controller:              config.Controller{SkipNameValidation: ptr.To(o.SeveralManagers)},
		HealthProbeBindAddress:  o.HealthProbeBindAddress,
		PprofBindAddress:        o.PprofBindAddress,
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        o.LeaderElectionID,
		LeaderElectionNamespace: leaderElectionNS,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host:    o.WebhookHost,
			Port:    o.WebhookPort,
			CertDir: o.WebhookCertDir,
			TLSOpts: tlsOpts,
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return nil, err
	}
	if err := requireCRDs(mgr.GetRESTMapper()); err != nil {
		return nil, err
	}
	if o.CertRotation {
		if err := servingcert.Setup(mgr, o.servingCertificate(), certificate); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("serving-certificate", certificate.Ready); err != nil {
			return nil, err
		}
	}
	// The webhooks read Secrets with a client of their own: sharing the controller's
	// rate-limited one stalled admissions under load. A short-lived cache turns a burst of
	// admissions for one cluster into one read.
	admissionConfig := withLimits(loaded, o.AdmissionAPIQPS, o.AdmissionAPIBurst)
	admissionClient, err := client.New(admissionConfig, client.Options{Scheme: scheme, Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return nil, fmt.Errorf("create the webhooks' API client: %w", err)
	}
	secrets := secretcache.New(admissionClient, o.SecretCacheTTL, maxCachedSecrets)
	if err := innokedawebhook.SetupScaledObjectDefaulter(mgr, o.ClusterDomain, o.ScalerAccounts,
		validation.Limits{MaxMySQLTriggers: o.MaxMySQLTriggers, MaxQueryBytes: o.MaxQueryBytes}, secrets); err != nil {
		return nil, fmt.Errorf("set up the mutating webhook: %w", err)
	}
	hosts := dryrun.HostPolicy{
		ClusterDomain: o.ClusterDomain,
		AllowedHosts:  o.DryRunAllowedHosts,
		Aliases:       o.DryRunHostAliases,
	}
	validator, err := innokedawebhook.SetupScaledObjectValidator(mgr, secrets, innokedawebhook.ValidatorOptions{
		DryRunTimeout:        o.DryRunTimeout,
		OnUnreachable:        o.OnUnreachable,
		MaxConcurrentDryRuns: o.MaxConcurrentDryRuns,
		KEDANamespace:        o.KEDANamespace,
		Hosts:                hosts,
		ScalerAccounts:       o.ScalerAccounts,
		Limits:               validation.Limits{MaxMySQLTriggers: o.MaxMySQLTriggers, MaxQueryBytes: o.MaxQueryBytes},
	})
	if err != nil {
		return nil, fmt.Errorf("set up the validating webhook: %w", err)
	}
	if o.AuditInterval > 0 {
		if err := setupAudit(mgr, validator, o); err != nil {
			return nil, fmt.Errorf("set up the audit: %w", err)
		}
	}
	controllerOptions := o.Controller
	controllerOptions.ScalerAccounts = o.ScalerAccounts
	controllerOptions.Hosts = hosts
	// Every replica serves dry-runs, as many as --serving-replicas says there are; a
	// dry-run that finds the limit reached warns that it could not validate.
	controllerOptions.DryRunConnections = o.ServingReplicas * o.MaxConcurrentDryRuns
	if err := controller.SetupWithManager(mgr, controllerOptions); err != nil {
		return nil, fmt.Errorf("set up the InnoDBCluster controller: %w", err)
	}
	return mgr, nil
}

// setupAudit adds the continuous audit. It shares the validating webhook's checking
// engine and its dry-run slots (--dry-run-max-concurrent, which the scaler account's connection limit
// is sized for), and takes at most half of them: admissions wait on the rest.
func setupAudit(mgr manager.Manager, validator *innokedawebhook.ScaledObjectValidator, o Options) error {
	auditor, err := audit.New(mgr.GetClient(), validator.Engine(), mgr.GetEventRecorder("innokeda"), audit.Options{
		Interval:    o.AuditInterval,
		Rate:        o.AuditRate,
		ClusterRate: o.AuditClusterRate,
		Workers:     max(1, o.MaxConcurrentDryRuns/2),
	})
	if err != nil {
		return err
	}
	return auditor.SetupWithManager(mgr)
}

// withLimits returns a copy of cfg with client-side rate limits qps and burst.
func withLimits(cfg *rest.Config, qps float64, burst int) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = float32(qps), burst
	return c
}

// Run parses args, then runs the manager until ctx is done.
func Run(ctx context.Context, args []string) error {
	return run(ctx, args, os.Stderr)
}

// Lint runs innokeda lint (internal/lint) with the manager's defaults for the flags they
// share, and returns its exit code.
func Lint(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	scheme, err := NewScheme()
	if err != nil {
		fmt.Fprintln(stderr, "innokeda lint:", err)
		return lint.ExitError
	}
	o := DefaultOptions()
	return lint.Command(args, lint.Options{
		Scheme:         scheme,
		Namespace:      "default",
		ClusterDomain:  o.ClusterDomain,
		ScalerAccounts: o.ScalerAccounts,
		Limits:         validation.Limits{MaxMySQLTriggers: o.MaxMySQLTriggers, MaxQueryBytes: o.MaxQueryBytes},
	}, stdin, stdout, stderr)
}

func run(ctx context.Context, args []string, output io.Writer) error {
	o := DefaultOptions()
	fs := flag.NewFlagSet("innokeda", flag.ContinueOnError)
	fs.SetOutput(output)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.Zap), zap.WriteTo(output)))

	cfg, err := restConfig(o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig: %w", err)
	}
	mgr, err := NewManager(cfg, o)
	if err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("Starting innokeda", "webhookPort", o.WebhookPort, "clusterDomain", o.ClusterDomain, "leaderElect", o.LeaderElect, "certRotation", o.CertRotation, "metricsSecure", o.MetricsSecure)
	return mgr.Start(ctx)
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return ctrl.GetConfig()
}
