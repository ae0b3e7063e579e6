package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

// TestServingCertificateRotation runs innokeda as the chart and the kustomize base do
// (--cert-rotation, --metrics-secure), as a user bound to exactly kustomize/base/rbac.yaml,
// starting from the empty Secret the base renders. The API server calls its webhooks with
// failurePolicy Fail, so a certificate it did not accept would fail an admission. The
// certificate is issued for 90 s and renewed when less than 80 s is left: it is replaced
// every 10 s or so, while admissions go on.
func TestServingCertificateRotation(t *testing.T) {
	c, warnings, err := controlPlane.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const installNS, ns = "innokeda", "rotation"
	user := bindBaseRBAC(t, c)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	for _, obj := range manifests(t, filepath.Join(harness.RepoRoot(), "kustomize", "base", "secret.yaml")) {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	restore := pointWebhooksAt(t, c, port, ns)
	certDir := t.TempDir()
	closed := innodbcluster.ServiceHost(innodbcluster.InstancesService("mycluster"), ns, "cluster.local") + "=127.0.0.1:1"
	p, err := harness.StartProcess(controlPlane, binary, envtest.User{Name: user}, port,
		"--webhook-cert-dir", certDir, "--cert-rotation", "--namespace", installNS, "--cert-extra-dns-name", "localhost",
		"--cert-validity", "90s", "--cert-renew-before", "80s", "--cert-check-interval", "1s", "--metrics-secure",
		"--leader-elect", "--leader-election-id", "innokeda-rotation", "--dry-run-host-alias", closed)
	if err != nil {
		restore()
		t.Fatal(err)
	}
	defer restore() // after the process has stopped: it would put its CA back
	defer p.Stop()

	cluster := gen.InnoDBCluster(ns, "mycluster")
	for _, obj := range []client.Object{gen.Secret(cluster, "root", "pw"), cluster} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := harness.CreateOperatorObjects(ctx, c, cluster); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tls.crt", "tls.key"} {
		if _, err := os.Stat(filepath.Join(certDir, name)); err != nil {
			t.Errorf("innokeda is ready but did not write %s: %v", name, err)
		}
	}

	// servedCertificate dials the webhook port as the API server does: trusting only the
	// caBundle innokeda put into the webhook configuration.
	servedCertificate := func() ([32]byte, error) {
		var m admissionregistrationv1.MutatingWebhookConfiguration
		if err := c.Get(ctx, client.ObjectKey{Name: "innokeda-mutating"}, &m); err != nil {
			return [32]byte{}, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(m.Webhooks[0].ClientConfig.CABundle) {
			return [32]byte{}, fmt.Errorf("the caBundle holds no certificate")
		}
		conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			return [32]byte{}, err
		}
		defer func() { _ = conn.Close() }()
		return sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw), nil
	}

	seen := map[[32]byte]bool{}
	admitted := 0
	deadline := time.Now().Add(90 * time.Second)
	for i := 0; len(seen) < 3 && time.Now().Before(deadline); i++ {
		so := gen.ScaledObject(ns, fmt.Sprintf("so-%d", i), "mycluster", gen.WithMySQLTrigger("SELECT 1", "1"))
		if err := c.Create(ctx, so); err != nil {
			t.Fatalf("admission %d failed (%d admitted, %d certificates seen): %v\n%s", i, admitted, len(seen), err, p.LogTail())
		}
		if so.Spec.Triggers[0].Metadata["host"] == "" {
			t.Fatalf("admission %d: the mutating webhook did not fill the host", i)
		}
		if w := warnings.Take(); len(w) == 0 {
			t.Fatalf("admission %d: no warning from the validating webhook's dry-run", i)
		}
		admitted++
		sum, err := servedCertificate()
		if err != nil {
			t.Fatalf("after %d admissions, the served certificate does not verify against the caBundle: %v", admitted, err)
		}
		seen[sum] = true
		time.Sleep(250 * time.Millisecond) // pacing, not readiness: admissions spread over the rotations
	}
	if len(seen) < 3 {
		t.Errorf("%d certificates served in 90 s (%d admissions), want 3: one issued and two rotations", len(seen), admitted)
	}

	t.Run("metrics need a token the API server authenticates and authorizes", func(t *testing.T) {
		var secret corev1.Secret
		if err := c.Get(ctx, client.ObjectKey{Namespace: installNS, Name: "innokeda-webhook-tls"}, &secret); err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(secret.Data["ca.crt"]) {
			t.Fatal("the Secret has no ca.crt")
		}
		// What a ServiceMonitor's tlsConfig says: the CA from the Secret, the Service's name.
		tlsConfig := &tls.Config{RootCAs: pool, ServerName: "innokeda-metrics.innokeda.svc"}
		reader, nobody := serviceAccountToken(t, c, ns, "prometheus", "innokeda-metrics-reader"), serviceAccountToken(t, c, ns, "nobody", "")
		for _, tc := range []struct {
			name, token string
			want        int
		}{
			{"no token", "", 401},
			// controller-runtime answers 500 for a token the API server's TokenReview rejects
			// with an error: refused all the same (any status from 400 on is accepted here).
			{"a made-up token", "not-a-token", 0},
			{"a ServiceAccount not bound to innokeda-metrics-reader", nobody, 403},
			{"a ServiceAccount bound to innokeda-metrics-reader", reader, 200},
		} {
			status, body, err := p.ScrapeTLS(tlsConfig, tc.token)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if status != tc.want && (tc.want != 0 || status < 400) {
				t.Errorf("%s: status %d, want %d", tc.name, status, tc.want)
			}
			if got := strings.Contains(body, "innokeda_"); got != (tc.want == 200) {
				t.Errorf("%s: body has innokeda's metrics: %t", tc.name, got)
			}
		}
	})

	if logs, err := os.ReadFile(p.LogPath); err != nil || strings.Contains(strings.ToLower(string(logs)), "forbidden") {
		t.Errorf("innokeda was forbidden something (%v):\n%s", err, p.LogTail())
	}
}

// pointWebhooksAt points the control plane's innokeda webhook configurations at
// https://localhost:port, with no caBundle (innokeda's rotation fills it), failing closed
// and only for namespace ns. It returns what puts them back.
func pointWebhooksAt(t *testing.T, c client.Client, port int, ns string) (restore func()) {
	t.Helper()
	ctx := context.Background()
	// envtest points them at a URL on 127.0.0.1; keep its path.
	url := func(cc admissionregistrationv1.WebhookClientConfig) *string {
		u, err := neturl.Parse(ptr.Deref(cc.URL, ""))
		if err != nil || u.Path == "" {
			t.Fatalf("webhook URL %v: %v", cc.URL, err)
		}
		return ptr.To(fmt.Sprintf("https://localhost:%d%s", port, u.Path))
	}
	onlyIn := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
	var m admissionregistrationv1.MutatingWebhookConfiguration
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(ctx, client.ObjectKey{Name: "innokeda-mutating"}, &m); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "innokeda-validating"}, &v); err != nil {
		t.Fatal(err)
	}
	savedM, savedV := m.Webhooks, v.Webhooks
	m.Webhooks, v.Webhooks = nil, nil
	for _, w := range savedM {
		w = *w.DeepCopy()
		w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: url(w.ClientConfig)}
		w.FailurePolicy, w.NamespaceSelector = ptr.To(admissionregistrationv1.Fail), onlyIn
		m.Webhooks = append(m.Webhooks, w)
	}
	for _, w := range savedV {
		w = *w.DeepCopy()
		w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: url(w.ClientConfig)}
		w.FailurePolicy, w.NamespaceSelector = ptr.To(admissionregistrationv1.Fail), onlyIn
		v.Webhooks = append(v.Webhooks, w)
	}
	if err := c.Update(ctx, &m); err != nil {
		t.Fatal(err)
	}
	if err := c.Update(ctx, &v); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			var m admissionregistrationv1.MutatingWebhookConfiguration
			var v admissionregistrationv1.ValidatingWebhookConfiguration
			if err := c.Get(ctx, client.ObjectKey{Name: "innokeda-mutating"}, &m); err != nil {
				return false, err
			}
			if err := c.Get(ctx, client.ObjectKey{Name: "innokeda-validating"}, &v); err != nil {
				return false, err
			}
			m.Webhooks, v.Webhooks = savedM, savedV
			if err := c.Update(ctx, &m); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			return c.Update(ctx, &v) == nil, nil
		}); err != nil {
			t.Errorf("the webhook configurations were not put back: %v", err)
		}
	}
}

// serviceAccountToken creates a ServiceAccount, binds it to clusterRole (unless empty)
// and returns a token the API server issued for it.
func serviceAccountToken(t *testing.T, c client.Client, ns, name, clusterRole string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := c.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if clusterRole != "" {
		if err := c.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole}}); err != nil {
			t.Fatal(err)
		}
	}
	request := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}
	if err := c.SubResource("token").Create(ctx, sa, request); err != nil {
		t.Fatal(err)
	}
	return request.Status.Token
}
