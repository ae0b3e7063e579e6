package lint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// objects holds what the manifests say the API server would hold, and answers the
// engine's reads as its cache would: the engine reads the same way at admission and here,
// so that lint and admission cannot disagree on what they found.
type objects struct {
	scheme *runtime.Scheme
	byKey  map[objectKey][]byte // JSON
}

type objectKey struct {
	gvk schema.GroupVersionKind
	types.NamespacedName
}

var _ client.Reader = (*objects)(nil)

func newObjects(scheme *runtime.Scheme) *objects {
	return &objects{scheme: scheme, byKey: map[objectKey][]byte{}}
}

// add stores obj; a later object of the same kind, namespace and name replaces it, as a
// later document does for kubectl apply.
func (o *objects) add(obj client.Object) error {
	gvk, err := apiutil.GVKForObject(obj, o.scheme)
	if err != nil {
		return err
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	o.byKey[objectKey{gvk, types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}}] = data
	return nil
}

// Get implements client.Reader: not found is the API server's NotFound.
func (o *objects) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	gvk, err := apiutil.GVKForObject(obj, o.scheme)
	if err != nil {
		return err
	}
	data, ok := o.byKey[objectKey{gvk, key}]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, key.Name)
	}
	if err := json.Unmarshal(data, obj); err != nil {
		return fmt.Errorf("read %s %s: %w", gvk.Kind, key, err)
	}
	return nil
}

// List implements client.Reader; the engine's checks that need no I/O list nothing.
func (o *objects) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("innokeda lint lists nothing")
}
