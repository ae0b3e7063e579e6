package app

import (
	"context"
	"flag"
	"io"
	"slices"
	"testing"
	"time"
)

func TestFlags(t *testing.T) {
	o := DefaultOptions()
	fs := flag.NewFlagSet("innokeda", flag.ContinueOnError)
	o.BindFlags(fs)
	args := []string{"--kubeconfig", "/k", "--webhook-port", "10250", "--webhook-cert-dir", "/certs", "--metrics-bind-address", "0",
		"--health-probe-bind-address", ":9000", "--leader-elect", "--cluster-domain", "corp.example", "--zap-log-level", "debug",
		"--kube-api-qps", "50", "--kube-api-burst", "80", "--admission-api-qps", "300", "--admission-api-burst", "600", "--secret-cache-ttl", "0s",
		"--audit-interval", "90s", "--audit-rate", "2.5", "--audit-cluster-rate", "0.25", "--serving-replicas", "3"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if o.Kubeconfig != "/k" || o.WebhookPort != 10250 || o.WebhookCertDir != "/certs" || o.MetricsBindAddress != "0" ||
		o.HealthProbeBindAddress != ":9000" || !o.LeaderElect || o.ClusterDomain != "corp.example" || o.EnableHTTP2 ||
		o.KubeAPIQPS != 50 || o.KubeAPIBurst != 80 || o.AdmissionAPIQPS != 300 || o.AdmissionAPIBurst != 600 || o.SecretCacheTTL != 0 ||
		o.AuditInterval != 90*time.Second || o.AuditRate != 2.5 || o.AuditClusterRate != 0.25 || o.ServingReplicas != 3 {
		t.Errorf("parsed options = %+v", o)
	}
}

func TestInvalidOptionsAreRejectedBeforeConnecting(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port out of range", []string{"--webhook-port", "70000"}, "--webhook-port 70000 is not a port number"},
		{"empty cluster domain", []string{"--cluster-domain", ""}, "--cluster-domain must not be empty"},
		{"unknown flag", []string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{"no rate for the controller", []string{"--kube-api-qps", "0"}, "--kube-api-qps must be positive and --kube-api-burst at least 1, not 0 and 100"},
		{"no burst for the webhooks", []string{"--admission-api-burst", "0"}, "--admission-api-qps must be positive and --admission-api-burst at least 1, not 100 and 0"},
		{"a negative cache time", []string{"--secret-cache-ttl", "-1s"}, "--secret-cache-ttl must not be negative, not -1s"},
		{"rotation without a namespace", []string{"--cert-rotation", "--namespace", ""},
			"--cert-rotation: innokeda's namespace is not known: set --namespace or the POD_NAMESPACE environment variable"},
		{"rotation that would renew at every check", []string{"--cert-rotation", "--namespace", "innokeda", "--cert-validity", "24h", "--cert-renew-before", "24h"},
			"--cert-rotation: the certificate must be renewed before it expires and after it is issued: renew-before 24h0m0s, validity 24h0m0s"},
		{"rotation with no webhook configuration", []string{"--cert-rotation", "--namespace", "innokeda", "--mutating-webhook-configuration", ""},
			"--cert-rotation: the certificate's Secret and both webhook configurations must be named"},
		{"a negative audit interval", []string{"--audit-interval", "-1m"}, "--audit-interval must not be negative (0 turns the audit off), not -1m0s"},
		{"no audit rate", []string{"--audit-rate", "0"}, "--audit-rate must be a positive number, not 0"},
		{"a negative audit rate", []string{"--audit-rate", "-2"}, "--audit-rate must be a positive number, not -2"},
		{"an unbounded audit rate", []string{"--audit-rate", "+Inf"}, "--audit-rate must be a positive number, not +Inf"},
		{"an audit rate that is no number", []string{"--audit-rate", "NaN"}, "--audit-rate must be a positive number, not NaN"},
		{"no serving replica", []string{"--serving-replicas", "0"}, "--serving-replicas must be between 1 and 64 (the Deployment's replicas), not 0"},
		{"too many serving replicas", []string{"--serving-replicas", "65"}, "--serving-replicas must be between 1 and 64 (the Deployment's replicas), not 65"},
		{"no audit rate per cluster", []string{"--audit-cluster-rate", "0"}, "--audit-cluster-rate must be a positive number, not 0"},
		{"an unbounded audit rate per cluster", []string{"--audit-cluster-rate", "+Inf"}, "--audit-cluster-rate must be a positive number, not +Inf"},
		{"an audit that would take every dry-run slot", []string{"--dry-run-max-concurrent", "1"},
			"the audit takes at most half of --dry-run-max-concurrent, so that admissions keep the rest: set it to at least 2, not 1, or turn the audit off with --audit-interval=0"},
		{"an empty extra DNS name", []string{"--cert-extra-dns-name", ""}, `invalid value "" for flag -cert-extra-dns-name: empty DNS name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The kubeconfig does not exist: an error about it would mean options were not checked first.
			err := run(context.Background(), append([]string{"--kubeconfig", "/nonexistent"}, tc.args...), io.Discard)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestServingCertificateNamesBothServicesInTheNamespace(t *testing.T) {
	o := DefaultOptions()
	fs := flag.NewFlagSet("innokeda", flag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse([]string{"--namespace", "platform", "--cluster-domain", "corp.local", "--webhook-service", "rel-webhook",
		"--metrics-service", "rel-metrics", "--cert-extra-dns-name", "localhost", "--cert-rotation"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []string{"rel-webhook.platform.svc", "rel-webhook.platform.svc.corp.local", "rel-metrics.platform.svc", "rel-metrics.platform.svc.corp.local", "localhost"}
	if got := o.servingCertificate().DNSNames; !slices.Equal(got, want) {
		t.Errorf("DNS names %q, want %q", got, want)
	}
}

func TestNamespaceDefaultsToThePodsNamespace(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "from-downward-api")
	if o := DefaultOptions(); o.Namespace != "from-downward-api" {
		t.Errorf("namespace %q, want the pod's", o.Namespace)
	}
}
