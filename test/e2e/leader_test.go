package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

// TestTwoReplicasOneLeader: with leader election, one replica reconciles, both serve webhooks.
func TestTwoReplicasOneLeader(t *testing.T) {
	// The first replica serves the port the API server's webhook configurations point at;
	// the second, another port with the same certificate.
	ports := []int{controlPlane.Env.WebhookInstallOptions.LocalServingPort, freePort(t)}
	var replicas []*harness.Process
	for _, port := range ports {
		p, err := harness.StartProcess(controlPlane, binary, harness.Admin, port, "--leader-elect", "--leader-election-namespace", "default", "--audit-interval=1s")
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		replicas = append(replicas, p)
	}

	c, _, err := controlPlane.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "leader"
	cluster := gen.InnoDBCluster(ns, "mycluster")
	for _, obj := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, gen.Secret(cluster, "", "pw"), cluster} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	sts := gen.StatefulSet(cluster)
	if err := c.Create(ctx, sts); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mycluster-innokeda"}, &kedav1alpha1.TriggerAuthentication{})
		return err == nil, client.IgnoreNotFound(err)
	}); err != nil {
		t.Fatalf("no replica made the TriggerAuthentication: %v\n%s\n%s", err, replicas[0].LogTail(), replicas[1].LogTail())
	}

	t.Run("exactly one replica leads, and only it reconciles", func(t *testing.T) {
		// One more change for the controller; once it is made, every replica has had
		// the chance to reconcile it.
		latest := &innodbcluster.InnoDBCluster{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(cluster), latest); err != nil {
			t.Fatal(err)
		}
		latest.Spec.SecretName = "rotated"
		if err := c.Update(ctx, latest); err != nil {
			t.Fatal(err)
		}
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			ta := &kedav1alpha1.TriggerAuthentication{}
			err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mycluster-innokeda"}, ta)
			return err == nil && ta.Spec.SecretTargetRef[0].Name == "rotated", err
		}); err != nil {
			t.Fatalf("the TriggerAuthentication did not follow the Secret: %v", err)
		}
		var leaders, reconciling []int
		for i, p := range replicas {
			if metricSum(t, p, `leader_election_master_status{name="innokeda.io"}`) == 1 {
				leaders = append(leaders, i)
			}
			if metricSum(t, p, `controller_runtime_reconcile_total{controller="innodbcluster"`) > 0 {
				reconciling = append(reconciling, i)
			}
		}
		if len(leaders) != 1 || !slices.Equal(leaders, reconciling) {
			t.Errorf("leaders %v, reconciling %v: want one replica, the same", leaders, reconciling)
		}
	})

	t.Run("only the leader audits", func(t *testing.T) {
		rotated := gen.Secret(cluster, "", "pw")
		rotated.Name = "rotated" // the Secret the cluster names since the subtest above
		if err := c.Create(ctx, rotated); err != nil {
			t.Fatal(err)
		}
		so := gen.ScaledObject(ns, "audited", "mycluster", gen.WithMySQLTrigger("SELECT 1", "1"))
		if err := c.Create(ctx, so); err != nil {
			t.Fatal(err)
		}
		// The ScaledObject is due within one interval; an audit that could not reach MySQL
		// (there is none here) is counted too.
		var auditing []int
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			auditing = nil
			for i, p := range replicas {
				if metricSum(t, p, "innokeda_audit_runs_total") > 0 {
					auditing = append(auditing, i)
				}
			}
			return len(auditing) > 0, nil
		}); err != nil {
			t.Fatalf("no replica audited: %v", err)
		}
		for i, p := range replicas {
			leads := metricSum(t, p, `leader_election_master_status{name="innokeda.io"}`) == 1
			if audits := slices.Contains(auditing, i); audits != leads {
				t.Errorf("replica %d: leads %v, audits %v", i, leads, audits)
			}
		}
	})

	t.Run("both replicas serve webhooks", func(t *testing.T) {
		so := gen.ScaledObject(ns, "so", "mycluster", gen.WithMySQLTrigger("SELECT 1", "1"))
		for i, p := range replicas {
			review := mutate(t, controlPlane, p.WebhookPort, so)
			if !review.Allowed || len(review.Patch) == 0 {
				t.Errorf("replica %d: allowed=%v patch=%s, want a patch filling the ScaledObject", i, review.Allowed, review.Patch)
			}
		}
	})
}

// metricSum adds up the samples of the metric lines that start with prefix.
func metricSum(t *testing.T, p *harness.Process, prefix string) float64 {
	t.Helper()
	lines, err := p.Metrics(prefix)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, l := range lines {
		f, err := strconv.ParseFloat(l[strings.LastIndex(l, " ")+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", l, err)
		}
		sum += f
	}
	return sum
}

// mutate sends one AdmissionReview to a replica's mutating webhook over TLS, trusting the
// control plane's webhook CA, as the API server does.
func mutate(t *testing.T, cp *harness.ControlPlane, port int, so *kedav1alpha1.ScaledObject) *admissionv1.AdmissionResponse {
	t.Helper()
	raw, err := json.Marshal(so)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "review-1", Operation: admissionv1.Create, Namespace: so.Namespace, Name: so.Name,
			Kind:     metav1.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"},
			Resource: metav1.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"},
			Object:   runtime.RawExtension{Raw: raw},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cp.Env.WebhookInstallOptions.LocalServingCAData)
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := fmt.Sprintf("https://127.0.0.1:%d/mutate-keda-sh-v1alpha1-scaledobject", port)
	resp, err := httpClient.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil || review.Response == nil {
		t.Fatalf("no AdmissionReview from port %d: %v", port, err)
	}
	return review.Response
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}
