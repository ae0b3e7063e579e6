package servingcert

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	corev1 "k8s.io/api/core/v1"
)

// issue returns a certificate and key for dnsName, signed by a new CA.
func issue(t *testing.T, dnsName string) (certPEM, keyPEM []byte) {
	t.Helper()
	r := &rotator.CertRotator{CAName: "test-ca", DNSName: dnsName, ExtKeyUsages: &[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	now := time.Now()
	ca, err := r.CreateCACert(now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err = r.CreateCertPEM(ca, now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

func secretWith(cert, key []byte) *corev1.Secret {
	return &corev1.Secret{Data: map[string][]byte{CertKey: cert, KeyKey: key}}
}

func TestSourceServesTheSecretsCertificateAndWritesIt(t *testing.T) {
	dir := t.TempDir()
	s := NewSource(dir)
	if _, err := s.GetCertificate(nil); err == nil {
		t.Error("a certificate served before one was issued")
	}
	if err := s.Ready(nil); err == nil {
		t.Error("ready before a certificate was issued")
	}

	// The Secret as the chart renders it: nothing to serve yet, and no error.
	if err := s.load(&corev1.Secret{}); err != nil {
		t.Errorf("empty Secret: %v", err)
	}
	if s.Ready(nil) == nil {
		t.Error("ready with an empty Secret")
	}

	cert, key := issue(t, "innokeda-webhook.innokeda.svc")
	if err := s.load(secretWith(cert, key)); err != nil {
		t.Fatal(err)
	}
	served, err := s.GetCertificate(nil)
	if err != nil || s.Ready(nil) != nil {
		t.Fatalf("after the Secret was filled: %v, ready: %v", err, s.Ready(nil))
	}
	if leaf, err := x509.ParseCertificate(served.Certificate[0]); err != nil || !slices.Equal(leaf.DNSNames, []string{"innokeda-webhook.innokeda.svc"}) {
		t.Errorf("served certificate for %v (%v)", leaf.DNSNames, err)
	}
	for name, want := range map[string][]byte{CertKey: cert, KeyKey: key} {
		path := filepath.Join(dir, name)
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %v, does not hold the Secret's %s", path, err, name)
		}
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v (%v), want 0600", path, info.Mode(), err)
		}
	}

	t.Run("a rotated certificate is served at once", func(t *testing.T) {
		cert2, key2 := issue(t, "innokeda-webhook.innokeda.svc")
		if err := s.load(secretWith(cert2, key2)); err != nil {
			t.Fatal(err)
		}
		served2, _ := s.GetCertificate(nil)
		if bytes.Equal(served2.Certificate[0], served.Certificate[0]) {
			t.Error("still serving the old certificate")
		}
		if got, _ := os.ReadFile(filepath.Join(dir, CertKey)); !bytes.Equal(got, cert2) {
			t.Error("the file still holds the old certificate")
		}
	})

	t.Run("a broken pair keeps the previous certificate and never quotes the Secret", func(t *testing.T) {
		before, _ := s.GetCertificate(nil)
		otherCert, _ := issue(t, "other")
		err := s.load(secretWith(otherCert, []byte("-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWtleQ==\n-----END RSA PRIVATE KEY-----\n")))
		if err == nil {
			t.Fatal("a certificate with someone else's key was taken")
		}
		if strings.Contains(err.Error(), "c2VjcmV0LWtleQ") || strings.Contains(err.Error(), "BEGIN") {
			t.Errorf("the error quotes the Secret: %v", err)
		}
		if after, _ := s.GetCertificate(nil); after != before {
			t.Error("the served certificate changed")
		}
	})
}

func TestOptionsValidate(t *testing.T) {
	valid := Options{Namespace: "innokeda", SecretName: "tls", DNSNames: []string{"a.innokeda.svc"}, MutatingWebhook: "m", ValidatingWebhook: "v",
		CertDir: "/certs", Validity: time.Hour, RenewBefore: time.Minute, CheckInterval: time.Second}
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no namespace", func(o *Options) { o.Namespace = "" }, "POD_NAMESPACE"},
		{"no Secret", func(o *Options) { o.SecretName = "" }, "must be named"},
		{"no validating webhook", func(o *Options) { o.ValidatingWebhook = "" }, "must be named"},
		{"no DNS name", func(o *Options) { o.DNSNames = nil }, "at least one DNS name"},
		{"no directory", func(o *Options) { o.CertDir = "" }, "directory"},
		{"no check interval", func(o *Options) { o.CheckInterval = 0 }, "check interval must be positive"},
		{"renewed at every check", func(o *Options) { o.RenewBefore = time.Hour }, "renew-before 1h0m0s, validity 1h0m0s"},
		{"never renewed", func(o *Options) { o.RenewBefore = 0 }, "renewed before it expires"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := valid
			tc.change(&o)
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestServiceDNSNames(t *testing.T) {
	got := ServiceDNSNames("ns", "cluster.local", "hook", "metrics")
	want := []string{"hook.ns.svc", "hook.ns.svc.cluster.local", "metrics.ns.svc", "metrics.ns.svc.cluster.local"}
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestReadyWaitsUntilTheCABundleTrustsTheCertificate(t *testing.T) {
	s := NewSource(t.TempDir())
	var asked int
	trusted := false
	s.trustedBy = func(_ context.Context, leaf *x509.Certificate) error {
		asked++
		if leaf == nil {
			t.Fatal("no leaf certificate")
		}
		if !trusted {
			return errors.New("not trusted yet")
		}
		return nil
	}
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	cert, key := issue(t, "innokeda-webhook.innokeda.svc")
	if err := s.load(secretWith(cert, key)); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(req); err == nil || err.Error() != "not trusted yet" {
		t.Errorf("ready before the caBundle trusts the certificate: %v", err)
	}
	trusted = true
	if err := s.Ready(req); err != nil {
		t.Errorf("not ready once trusted: %v", err)
	}
	// Found trusted once, a certificate stays ready without asking the API server again.
	trusted = false
	if err := s.Ready(req); err != nil || asked != 2 {
		t.Errorf("ready: %v after %d checks, want ready after 2", err, asked)
	}
	// A new certificate is checked again.
	cert2, key2 := issue(t, "innokeda-webhook.innokeda.svc")
	if err := s.load(secretWith(cert2, key2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(req); err == nil {
		t.Error("a rotated certificate was not checked")
	}
}
