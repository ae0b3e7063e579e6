// Command floor is the load tool's no-op admission webhook: controller-runtime's webhook
// server with one admission.Webhook that allows everything, on both of innokeda's paths.
// What it costs to answer is what any controller-runtime webhook pays before its handler
// runs (TLS, HTTP, decoding the AdmissionReview, encoding the answer): the floor the
// other targets are measured against.
//
// It takes the flags harness.StartProcess passes to innokeda, so that it is started the
// same way; it needs no API server and ignores --kubeconfig and --metrics-bind-address.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// The paths innokeda serves (webhook.MutatePath and webhook.ValidatePath), repeated here
// so that this binary links nothing of innokeda's.
const (
	mutatePath   = "/mutate-keda-sh-v1alpha1-scaledobject"
	validatePath = "/validate-keda-sh-v1alpha1-scaledobject"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	port := fs.Int("webhook-port", 9443, "Port of the webhook server (TLS, on 127.0.0.1).")
	certDir := fs.String("webhook-cert-dir", "", "Directory with tls.crt and tls.key.")
	probeAddr := fs.String("health-probe-bind-address", "127.0.0.1:0", "Address of /readyz.")
	_ = fs.String("kubeconfig", "", "Ignored: the floor needs no API server.")
	_ = fs.String("metrics-bind-address", "", "Ignored: the floor serves no metrics.")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	logf.SetLogger(zap.New())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	srv := webhook.NewServer(webhook.Options{
		Host:    "127.0.0.1",
		Port:    *port,
		CertDir: *certDir,
		// HTTP/1.1 only, as innokeda serves by default.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	})
	allow := admission.HandlerFunc(func(context.Context, admission.Request) admission.Response { return admission.Allowed("") })
	srv.Register(mutatePath, &admission.Webhook{Handler: allow})
	srv.Register(validatePath, &admission.Webhook{Handler: allow})

	started := srv.StartedChecker()
	probe := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/readyz" && r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			if err := started(r); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = w.Write([]byte("ok"))
		}),
	}
	ln, err := net.Listen("tcp", *probeAddr)
	if err != nil {
		return err
	}
	go func() { _ = probe.Serve(ln) }()
	defer func() { _ = probe.Close() }()

	if err := srv.Start(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
