package servingcert

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/innokeda/innokeda/internal/metrics"
)

// expiry reports the certificate of the directory last given to WatchExpiry.
type expiry struct{ dir atomic.Pointer[string] }

var certExpiry = &expiry{}

func init() { metrics.Register(certExpiry) }

// WatchExpiry makes innokeda_serving_certificate_expiry_timestamp_seconds report the
// certificate in dir (tls.crt).
func WatchExpiry(dir string) { certExpiry.dir.Store(&dir) }

func (e *expiry) Describe(ch chan<- *prometheus.Desc) { ch <- metrics.ServingCertificateExpiry }

func (e *expiry) Collect(ch chan<- prometheus.Metric) {
	dir := e.dir.Load()
	if dir == nil {
		return
	}
	if notAfter, ok := leafNotAfter(filepath.Join(*dir, CertKey)); ok {
		ch <- prometheus.MustNewConstMetric(metrics.ServingCertificateExpiry, prometheus.GaugeValue, notAfter)
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
