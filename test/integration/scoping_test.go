package integration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/test/harness"
)

// recorder is a webhook server that admits everything and notes each request it gets.
type recorder struct {
	mu       sync.Mutex
	requests []string // "mutate CREATE ns/name"
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.requests
	r.requests = nil
	return got
}

func (r *recorder) handler(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 1<<20)).Decode(&review); err != nil || review.Request == nil {
			http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.requests = append(r.requests, fmt.Sprintf("%s %s %s/%s", kind, review.Request.Operation, review.Request.Namespace, review.Request.Name))
		r.mu.Unlock()
		review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
		review.Request = nil
		_ = json.NewEncoder(w).Encode(review)
	}
}

// TestWebhooksAreAskedOnlyWhenThereIsWork installs kustomize/base/webhook.yaml's two
// configurations once more, as they are but for their names and a URL pointing at a
// recorder, and checks which writes the API server sends: its namespaceSelector and
// matchConditions decide, before any request leaves the API server.
func TestWebhooksAreAskedOnlyWhenThereIsWork(t *testing.T) {
	ctx := context.Background()
	c, _, err := controlPlane.Client()
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	url := startRecorder(t, rec)
	installRecordingCopies(t, c, url)

	const ns = "scoping"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	so := gen.ScaledObject(ns, "so", "mycluster", gen.WithMySQLTrigger("SELECT 1", "1"))
	expect := func(t *testing.T, what string, want ...string) {
		t.Helper()
		got := rec.take()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: the webhooks got %q, want %q", what, got, want)
		}
	}
	both := func(op string) []string {
		return []string{"mutate " + op + " " + ns + "/so", "validate " + op + " " + ns + "/so"}
	}
	update := func(t *testing.T, change func(*kedav1alpha1.ScaledObject)) {
		t.Helper()
		if err := c.Get(ctx, client.ObjectKeyFromObject(so), so); err != nil {
			t.Fatal(err)
		}
		change(so)
		if err := c.Update(ctx, so); err != nil {
			t.Fatal(err)
		}
	}

	if err := c.Create(ctx, so); err != nil {
		t.Fatal(err)
	}
	expect(t, "a create", both("CREATE")...)

	update(t, func(so *kedav1alpha1.ScaledObject) { so.Labels = map[string]string{"team": "db"} })
	expect(t, "an update of labels only")

	update(t, func(so *kedav1alpha1.ScaledObject) { so.Status.Health = map[string]kedav1alpha1.HealthStatus{"x": {}} })
	if err := c.Status().Update(ctx, so); err != nil {
		t.Fatal(err)
	}
	expect(t, "a status update (KEDA's own)")

	update(t, func(so *kedav1alpha1.ScaledObject) { so.Spec.PollingInterval = ptr.To[int32](15) })
	expect(t, "an update of spec", both("UPDATE")...)

	update(t, func(so *kedav1alpha1.ScaledObject) { so.Finalizers = []string{"innokeda.io/test"} })
	expect(t, "a finalizer added")
	if err := c.Delete(ctx, so); err != nil {
		t.Fatal(err)
	}
	update(t, func(so *kedav1alpha1.ScaledObject) { so.Spec.PollingInterval = ptr.To[int32](20) })
	expect(t, "an update of spec while the object is being deleted")
	update(t, func(so *kedav1alpha1.ScaledObject) { so.Finalizers = nil })
	expect(t, "the finalizer removed")

	inKubeSystem := gen.ScaledObject("kube-system", "so", "mycluster", gen.WithMySQLTrigger("SELECT 1", "1"))
	if err := c.Create(ctx, inKubeSystem); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Delete(ctx, inKubeSystem) }()
	expect(t, "a create in kube-system")
}

// startRecorder serves rec over TLS on loopback, with the certificate the control plane's
// webhook configurations trust, until the test ends; it returns the base URL.
func startRecorder(t *testing.T, rec *recorder) string {
	t.Helper()
	wh := controlPlane.Env.WebhookInstallOptions
	pair, err := tls.LoadX509KeyPair(filepath.Join(wh.LocalServingCertDir, "tls.crt"), filepath.Join(wh.LocalServingCertDir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	listener, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mutate", rec.handler("mutate"))
	mux.Handle("/validate", rec.handler("validate"))
	server := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}}}
	go func() { _ = server.ServeTLS(listener, "", "") }()
	t.Cleanup(func() { _ = server.Close() })
	return "https://" + listener.Addr().String()
}

// installRecordingCopies creates copies of kustomize/base/webhook.yaml's configurations
// that call url instead of innokeda, and deletes them when the test ends.
func installRecordingCopies(t *testing.T, c client.Client, url string) {
	t.Helper()
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "kustomize", "base", "webhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := harness.DecodeManifests(data)
	if err != nil {
		t.Fatal(err)
	}
	caBundle := controlPlane.Env.WebhookInstallOptions.LocalServingCAData
	for _, u := range objs {
		var copyOf client.Object
		switch u.GetKind() {
		case "MutatingWebhookConfiguration":
			m := &admissionregistrationv1.MutatingWebhookConfiguration{}
			fromUnstructured(t, u, m)
			for i := range m.Webhooks {
				m.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To(url + "/mutate"), CABundle: caBundle}
			}
			copyOf = m
		case "ValidatingWebhookConfiguration":
			v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			fromUnstructured(t, u, v)
			for i := range v.Webhooks {
				v.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To(url + "/validate"), CABundle: caBundle}
			}
			copyOf = v
		default:
			t.Fatalf("unexpected %s in webhook.yaml", u.GetKind())
		}
		copyOf.SetName("recording-" + copyOf.GetName())
		if err := c.Create(ctx, copyOf); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Delete(ctx, copyOf) })
	}
}

func fromUnstructured(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		t.Fatal(err)
	}
}
