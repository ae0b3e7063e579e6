package servingcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestExpiryMetric(t *testing.T) {
	dir := t.TempDir()
	WatchExpiry(dir)
	const name = "innokeda_serving_certificate_expiry_timestamp_seconds"
	if n := testutil.CollectAndCount(certExpiry, name); n != 0 {
		t.Errorf("%d series while there is no certificate; want none", n)
	}
	notAfter := time.Date(2027, 3, 4, 5, 6, 7, 0, time.UTC)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "innokeda"}, NotBefore: notAfter.Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CertKey), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	expected := strings.NewReader("# HELP " + name + " When the certificate in --webhook-cert-dir (the webhooks' and /metrics' serving certificate) expires, in seconds since the epoch; absent while there is none.\n" +
		"# TYPE " + name + " gauge\n" + name + " 1.804136767e+09\n")
	if err := testutil.CollectAndCompare(certExpiry, expected, name); err != nil {
		t.Error(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CertKey), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(certExpiry, name); n != 0 {
		t.Errorf("%d series for a file that is no certificate; want none", n)
	}
}
