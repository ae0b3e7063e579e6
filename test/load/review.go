package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/utils/ptr"
)

// What the API server sends with every ScaledObject CREATE.
var (
	scaledObjectKind     = metav1.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"}
	scaledObjectResource = metav1.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}
	createOptions        = []byte(`{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1","fieldManager":"kubectl-client-side-apply","fieldValidation":"Strict"}`)
	requester            = authenticationv1.UserInfo{
		Username: "load-tester",
		UID:      "5d1c0b8e-5a53-4a0e-9f3e-6c1b2c3d4e5f",
		Groups:   []string{"developers", "system:authenticated"},
	}
)

// request is one AdmissionReview to send, and its uid, which the answer must carry.
type request struct {
	body []byte
	uid  types.UID
}

// reviewRequest is the JSON AdmissionReview v1 the API server would send for creating so:
// uid, kind, resource, namespace, operation CREATE, userInfo, the object, dryRun false
// and the CreateOptions.
func reviewRequest(so *kedav1alpha1.ScaledObject) (request, error) {
	obj, err := json.Marshal(so)
	if err != nil {
		return request{}, err
	}
	uid := uuid.NewUUID()
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:             uid,
			Kind:            scaledObjectKind,
			Resource:        scaledObjectResource,
			RequestKind:     &scaledObjectKind,
			RequestResource: &scaledObjectResource,
			Name:            so.Name,
			Namespace:       so.Namespace,
			Operation:       admissionv1.Create,
			UserInfo:        requester,
			Object:          runtime.RawExtension{Raw: obj},
			DryRun:          ptr.To(false),
			Options:         runtime.RawExtension{Raw: createOptions},
		},
	})
	return request{body: body, uid: uid}, err
}

// storedLike returns so as the validating webhooks see it: after the mutating webhooks,
// with the uid, creation time and generation the API server has set by then.
func storedLike(so *kedav1alpha1.ScaledObject, name string) *kedav1alpha1.ScaledObject {
	so = so.DeepCopy()
	so.Name = name
	so.UID = types.UID(uuid.NewUUID())
	so.CreationTimestamp = metav1.NewTime(time.Now().Truncate(time.Second))
	so.Generation = 1
	return so
}

// answer is what one AdmissionReview response says, as far as the report cares.
type answer struct {
	allowed  bool
	patched  bool
	warnings []string
	message  string
}

// dryRun tells whether innokeda's validating webhook ran the query ("dry-run returned").
func (a answer) dryRun() bool { return a.warned("dry-run returned") }

// notValidated tells whether innokeda said it could not validate (a lookup or a
// credential read failed, or the dry-run could not happen).
func (a answer) notValidated() bool {
	return a.warned("could not") || a.warned("not validated") || strings.Contains(a.message, "not validated")
}

func (a answer) warned(s string) bool {
	for _, w := range a.warnings {
		if strings.Contains(w, s) {
			return true
		}
	}
	return false
}

// parseAnswer decodes a webhook's reply to the request with uid.
func parseAnswer(body []byte, uid types.UID) (answer, error) {
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return answer{}, fmt.Errorf("decode the AdmissionReview: %w", err)
	}
	r := review.Response
	if r == nil {
		return answer{}, fmt.Errorf("an AdmissionReview without a response")
	}
	if uid != "" && r.UID != uid {
		return answer{}, fmt.Errorf("the response's uid %q is not the request's %q", r.UID, uid)
	}
	a := answer{allowed: r.Allowed, patched: len(r.Patch) > 0, warnings: r.Warnings}
	if r.Result != nil {
		a.message = r.Result.Message
	}
	return a, nil
}

// applyPatch applies the JSON patch of a mutating webhook's response to so.
func applyPatch(so *kedav1alpha1.ScaledObject, body []byte) (*kedav1alpha1.ScaledObject, error) {
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return nil, err
	}
	if review.Response == nil || len(review.Response.Patch) == 0 {
		return nil, fmt.Errorf("no patch in the response")
	}
	patch, err := jsonpatch.DecodePatch(review.Response.Patch)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(so)
	if err != nil {
		return nil, err
	}
	if doc, err = patch.Apply(doc); err != nil {
		return nil, err
	}
	out := &kedav1alpha1.ScaledObject{}
	return out, json.Unmarshal(doc, out)
}
