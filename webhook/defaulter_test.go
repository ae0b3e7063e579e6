package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/innokeda/innokeda/internal/app"
	"github.com/innokeda/innokeda/test/gen"
	"github.com/innokeda/innokeda/webhook"
)

const (
	ns    = "mysql-cluster"
	query = "SELECT CEIL(COUNT(*) / 6) FROM testdb.testtable WHERE testcolumn2='none'"
)

// newDefaulter returns a defaulter whose reads are served by an in-memory client holding
// an annotated cluster, its StatefulSet and its Secret.
func newDefaulter(t testing.TB, funcs interceptor.Funcs) *webhook.ScaledObjectDefaulter {
	t.Helper()
	scheme, err := app.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cluster := gen.InnoDBCluster(ns, "mycluster")
	cluster.UID = "c1"
	reader := fake.NewClientBuilder().WithScheme(scheme).
		WithObjects(cluster, gen.StatefulSet(cluster), gen.Secret(cluster, "", "pw")).
		WithInterceptorFuncs(funcs).Build()
	return webhook.NewScaledObjectDefaulter(scheme, reader, reader, "cluster.local")
}

func request(t testing.TB, op admissionv1.Operation, obj runtime.Object) admission.Request {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       types.UID("req-1"),
		Kind:      metav1.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"},
		Resource:  metav1.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"},
		Namespace: ns,
		Operation: op,
		Object:    runtime.RawExtension{Raw: raw},
	}}
}

func TestHandle(t *testing.T) {
	bare := gen.ScaledObject(ns, "so", "mycluster", gen.WithMySQLTrigger(query, "3"))
	lookupFails := interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
		return errors.New("connection refused")
	}}
	tests := []struct {
		name        string
		funcs       interceptor.Funcs
		req         func(t testing.TB) admission.Request
		wantPatches int
		wantWarning string
	}{
		{
			name:        "in scope: patched",
			req:         func(t testing.TB) admission.Request { return request(t, admissionv1.Create, bare) },
			wantPatches: 15, // 11 fields, 3 parents of the pacing, and the annotation
			wantWarning: "innokeda filled 11 field(s) from InnoDBCluster mysql-cluster/mycluster",
		},
		{
			name: "delete: untouched",
			req: func(t testing.TB) admission.Request {
				r := request(t, admissionv1.Delete, bare)
				r.OldObject, r.Object = r.Object, runtime.RawExtension{}
				return r
			},
		},
		{
			name: "object that does not decode: untouched, the API server's validation answers",
			req: func(t testing.TB) admission.Request {
				r := request(t, admissionv1.Create, bare)
				r.Object.Raw = []byte(`{"spec":{"minReplicaCount":"three"}}`)
				return r
			},
		},
		{
			name:        "lookup fails: untouched, with a warning and no detail of the object",
			funcs:       lookupFails,
			req:         func(t testing.TB) admission.Request { return request(t, admissionv1.Create, bare) },
			wantWarning: "innokeda could not look up StatefulSet mycluster, so it filled nothing; try again: get *v1.StatefulSet mysql-cluster/mycluster: connection refused",
		},
		{
			name:  "out of scope costs no lookup",
			funcs: lookupFails,
			req: func(t testing.TB) admission.Request {
				return request(t, admissionv1.Create, gen.ScaledObjectFrom(bare, gen.WithTarget("apps/v1", "Deployment", "web")))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := newDefaulter(t, tc.funcs).Handle(context.Background(), tc.req(t))
			if !resp.Allowed {
				t.Fatalf("denied: %+v", resp.Result)
			}
			if len(resp.Patches) != tc.wantPatches {
				t.Errorf("%d patches %v, want %d", len(resp.Patches), resp.Patches, tc.wantPatches)
			}
			switch {
			case tc.wantWarning == "" && len(resp.Warnings) != 0:
				t.Errorf("warnings %q, want none", resp.Warnings)
			case tc.wantWarning != "" && (len(resp.Warnings) == 0 || !strings.HasPrefix(resp.Warnings[len(resp.Warnings)-1], tc.wantWarning)):
				t.Errorf("warnings %q, want the last to start with %q", resp.Warnings, tc.wantWarning)
			}
		})
	}
}

// An object over the validating webhook's bounds is not filled, and costs no lookup:
// filling reads every query, and the object is denied anyway.
func TestDefaulterBoundsAnObjectsCost(t *testing.T) {
	var lookups atomic.Int32
	count := interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		lookups.Add(1)
		return c.Get(ctx, key, obj, opts...)
	}}
	opts := []gen.ScaledObjectOption{}
	for range 17 {
		opts = append(opts, gen.WithMySQLTrigger(query, "3"))
	}
	so := gen.ScaledObject(ns, "costly", "mycluster", opts...)
	resp := newDefaulter(t, count).Handle(context.Background(), request(t, admissionv1.Create, so))
	if !resp.Allowed || len(resp.Patches) > 0 || len(resp.Warnings) != 1 ||
		!strings.Contains(resp.Warnings[0], "innokeda filled nothing: the ScaledObject spec.triggers: Invalid value: has 17 mysql triggers: innokeda checks at most 16") {
		t.Errorf("allowed=%v, %d patches, warnings %q", resp.Allowed, len(resp.Patches), resp.Warnings)
	}
	if n := lookups.Load(); n != 0 {
		t.Errorf("%d lookups for an object over the bounds", n)
	}
	// At the bound, it is filled as any other.
	so.Spec.Triggers = so.Spec.Triggers[:16]
	if resp := newDefaulter(t, count).Handle(context.Background(), request(t, admissionv1.Create, so)); len(resp.Patches) == 0 {
		t.Errorf("16 triggers: not filled: %q", resp.Warnings)
	}
}

// FuzzHandler sends arbitrary bodies to the webhook over HTTP, both as whole request
// bodies and as the object inside a well-formed AdmissionReview: it must never panic and
// must always answer with a well-formed AdmissionReview.
func FuzzHandler(f *testing.F) {
	valid, err := json.Marshal(gen.ScaledObject(ns, "so", "mycluster", gen.WithMySQLTrigger(query, "3"), gen.WithTrigger("cron", nil)))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(valid), "", "{}", "null", "[]", `{"spec":null}`, `{"spec":{"scaleTargetRef":null,"triggers":[null]}}`,
		`{"spec":{"scaleTargetRef":{"kind":"InnoDBCluster","name":"mycluster"},"triggers":[{"type":"mysql","metadata":null}]}}`,
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1"}}`,
		`{"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z"}}`,
	} {
		f.Add([]byte(seed))
	}
	hook := &admission.Webhook{Handler: newDefaulter(f, interceptor.Funcs{})}
	srv := httptest.NewServer(hook)
	f.Cleanup(srv.Close)

	f.Fuzz(func(t *testing.T, body []byte) {
		post(t, srv.URL, body)
		req := request(t, admissionv1.Create, &kedav1alpha1.ScaledObject{})
		req.Object.Raw = body
		review := admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request:  &req.AdmissionRequest,
		}
		wrapped, err := json.Marshal(review)
		if err != nil {
			return // not valid JSON inside RawExtension; the API server never sends that
		}
		if got := post(t, srv.URL, wrapped); got.Response.UID != review.Request.UID {
			t.Fatalf("response UID %q, want %q", got.Response.UID, review.Request.UID)
		}
	})
}

func post(t *testing.T, url string, body []byte) admissionv1.AdmissionReview {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil {
		t.Fatalf("response is not an AdmissionReview: %v", err)
	}
	if review.Response == nil {
		t.Fatalf("AdmissionReview without a response for body %q", body)
	}
	if !review.Response.Allowed && review.Response.Result == nil {
		t.Fatalf("denied without a reason: %+v", review.Response)
	}
	return review
}

// BenchmarkMutate measures the handler for a two-trigger ScaledObject, from a decoded
// admission request to the patch, with the lookups served from memory the way the
// manager's informer cache serves them (a deep copy per read). Target: under 100 µs per
// request.
func BenchmarkMutate(b *testing.B) {
	so := gen.ScaledObject(ns, "so", "mycluster",
		gen.WithEnvSourceContainer(".spec.template.spec.containers[0]"),
		gen.WithMySQLTrigger(query, "3"), gen.WithMySQLTrigger("SELECT COUNT(*) FROM testdb.jobs", "10"))
	req := request(b, admissionv1.Create, so)
	scheme, err := app.NewScheme()
	if err != nil {
		b.Fatal(err)
	}
	cluster := gen.InnoDBCluster(ns, "mycluster")
	cache := memoryReader{}
	// The steady state: the controller has written the TriggerAuthentication it keeps.
	for _, obj := range []client.Object{cluster, gen.StatefulSet(cluster), gen.TriggerAuthentication(cluster, false)} {
		cache[memoryKey{reflect.TypeOf(obj), client.ObjectKeyFromObject(obj)}] = obj
	}
	d := webhook.NewScaledObjectDefaulter(scheme, cache, cache, "cluster.local")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if resp := d.Handle(ctx, req); len(resp.Patches) == 0 {
			b.Fatal("no patch")
		}
	}
}

// memoryReader serves Gets from a map, copying like the informer cache does.
type memoryReader map[memoryKey]client.Object

type memoryKey struct {
	kind reflect.Type
	key  client.ObjectKey
}

func (m memoryReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	stored, ok := m[memoryKey{reflect.TypeOf(obj), key}]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
	}
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(stored.DeepCopyObject()).Elem())
	return nil
}

// List lists pods only (what the validator lists), by namespace and labels.
func (m memoryReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	pods, ok := list.(*corev1.PodList)
	if !ok {
		return fmt.Errorf("memoryReader lists pods only, not %T", list)
	}
	o := (&client.ListOptions{}).ApplyOptions(opts)
	for _, obj := range m {
		pod, ok := obj.(*corev1.Pod)
		if !ok || o.Namespace != "" && pod.Namespace != o.Namespace || o.LabelSelector != nil && !o.LabelSelector.Matches(labels.Set(pod.Labels)) {
			continue
		}
		pods.Items = append(pods.Items, *pod.DeepCopy())
	}
	return nil
}

// secretReads serves Secrets from memory and counts the reads.
type secretReads struct {
	memoryReader
	n atomic.Int32
}

func (s *secretReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		s.n.Add(1)
	}
	return s.memoryReader.Get(ctx, key, obj, opts...)
}

// TestMutationReadsNoSecretOnceTheControllerHasWritten: the hot path is answered from the
// cache. Whether the cluster's Secret names the root account is read off the
// TriggerAuthentication the controller keeps; the Secret itself only before it exists.
func TestMutationReadsNoSecretOnceTheControllerHasWritten(t *testing.T) {
	scheme, err := app.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cluster := gen.InnoDBCluster(ns, "mycluster")
	bare := gen.ScaledObject(ns, "so", "mycluster", gen.WithMySQLTrigger(query, "3"))
	for _, tc := range []struct {
		name         string
		secretUser   string // the Secret's rootUser key; "" for none
		objects      []client.Object
		wantReads    int32
		wantUsername string // filled into the metadata; "" for none
	}{
		{name: "the kept TriggerAuthentication maps username: nothing to fill, no read", secretUser: "admin",
			objects: []client.Object{gen.TriggerAuthentication(cluster, true)}},
		{name: "the kept TriggerAuthentication maps no username: root, no read",
			objects: []client.Object{gen.TriggerAuthentication(cluster, false)}, wantUsername: "root"},
		{name: "before the controller has written it: the Secret is read", secretUser: "admin", wantReads: 1},
		{name: "a TriggerAuthentication of that name innokeda does not keep says nothing of the Secret", secretUser: "admin", wantReads: 1,
			objects: []client.Object{func() client.Object {
				ta := gen.TriggerAuthentication(cluster, false)
				ta.Labels = nil
				return ta
			}()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := memoryReader{}
			secret := gen.Secret(cluster, tc.secretUser, "pw")
			secret.Data = map[string][]byte{}
			for k, v := range secret.StringData { // as the API server stores it
				secret.Data[k] = []byte(v)
			}
			for _, obj := range append([]client.Object{cluster, gen.StatefulSet(cluster), secret}, tc.objects...) {
				cache[memoryKey{reflect.TypeOf(obj), client.ObjectKeyFromObject(obj)}] = obj
			}
			cacheOnly := &secretReads{memoryReader: cache}
			secrets := &secretReads{memoryReader: cache}
			resp := webhook.NewScaledObjectDefaulter(scheme, cacheOnly, secrets, "cluster.local").Handle(context.Background(), request(t, admissionv1.Create, bare))
			if !resp.Allowed || len(resp.Patches) == 0 {
				t.Fatalf("not filled: %+v", resp)
			}
			if n := cacheOnly.n.Load() + secrets.n.Load(); n != tc.wantReads {
				t.Errorf("%d Secret reads, want %d", n, tc.wantReads)
			}
			username := ""
			for _, p := range resp.Patches {
				if p.Path == "/spec/triggers/0/metadata/username" {
					username, _ = p.Value.(string)
				}
			}
			if username != tc.wantUsername {
				t.Errorf("username filled %q, want %q", username, tc.wantUsername)
			}
		})
	}
}
