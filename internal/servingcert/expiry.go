package servingcert

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// expiryDesc is the serving certificate's expiry, read from the file both servers serve
// (written by the in-process rotation, or mounted from cert-manager's Secret) at each
// scrape: what an alert needs to fire before the API server refuses innokeda's TLS.
var expiryDesc = prometheus.NewDesc("innokeda_serving_certificate_expiry_timestamp_seconds",
	"When the certificate in --webhook-cert-dir (the webhooks' and /metrics' serving certificate) expires, in seconds since the epoch; absent while there is none.", nil, nil)

// expiry reports the certificate of the directory last given to WatchExpiry.
type expiry struct{ dir atomic.Pointer[string] }

var certExpiry = &expiry{}

func init() { metrics.Registry.MustRegister(certExpiry) }

// WatchExpiry makes innokeda_serving_certificate_expiry_timestamp_seconds report the
// certificate in dir (tls.crt).
func WatchExpiry(dir string) { certExpiry.dir.Store(&dir) }

func (e *expiry) Describe(ch chan<- *prometheus.Desc) { ch <- expiryDesc }

func (e *expiry) Collect(ch chan<- prometheus.Metric) {
	dir := e.dir.Load()
	if dir == nil {
		return
	}
	if notAfter, ok := leafNotAfter(filepath.Join(*dir, CertKey)); ok {
		ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, notAfter)
	}
}

// leafNotAfter is the expiry of the first certificate in file, in seconds since the epoch.
func leafNotAfter(file string) (float64, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return 0, false
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return 0, false
	}
	return float64(leaf.NotAfter.Unix()), true
}
