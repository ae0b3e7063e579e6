// Command kedapeer is KEDA's own ScaledObject validating webhook, from the pinned module
// github.com/kedacore/keda/v2, served the way KEDA's admission-webhooks binary serves it
// (cmd/webhooks/main.go of that module): a controller-runtime manager with the
// client-go and KEDA schemes, the client throttled at KEDA's default QPS and burst, and
// (&ScaledObject{}).SetupWebhookWithManager, which serves
// /validate-keda-sh-v1alpha1-scaledobject from the manager's cache. It is the load
// tool's peer: a webhook people already run in front of the same objects.
//
// It takes the flags harness.StartProcess passes to innokeda. /readyz is 200 once the
// webhook server accepts connections and the cache has synced.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kedapeer:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("kedapeer", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "Path to a kubeconfig.")
	port := fs.Int("webhook-port", 9443, "Port of the webhook server (TLS, on 127.0.0.1).")
	certDir := fs.String("webhook-cert-dir", "", "Directory with tls.crt and tls.key.")
	metricsAddr := fs.String("metrics-bind-address", "0", "Address of /metrics; \"0\" turns it off.")
	probeAddr := fs.String("health-probe-bind-address", "127.0.0.1:0", "Address of /healthz and /readyz.")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New())

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, kedav1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 20, 30 // KEDA's --kube-api-qps and --kube-api-burst defaults
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress: *probeAddr,
		WebhookServer:          webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: *port, CertDir: *certDir}),
	})
	if err != nil {
		return err
	}
	if err := (&kedav1alpha1.ScaledObject{}).SetupWebhookWithManager(mgr, false); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("cache", func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 100*time.Millisecond)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("cache not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
