package manifests

import (
	"strings"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
)

func TestApply(t *testing.T) {
	untouched := "# first, as written\napiVersion: v1\nkind:   ConfigMap   # odd spacing stays\nmetadata: {name: a}\n"
	target := "# the one to fill\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: so\nspec:\n  scaleTargetRef:\n    name: mycluster # the cluster\n"
	data := untouched + "---\n" + target
	fixed, err := Apply([]byte(data), map[int][]jsonpatch.Operation{7: {
		{Operation: "add", Path: "/spec/scaleTargetRef/envSourceContainerName", Value: "mysql"},
		{Operation: "replace", Path: "/spec/scaleTargetRef/name", Value: "mycluster"},
		{Operation: "add", Path: "/spec/minReplicaCount", Value: 3},
		{Operation: "add", Path: "/spec/advanced", Value: map[string]any{"behavior": map[string]any{"policies": []any{map[string]any{"value": 1}}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := string(fixed)
	if !strings.HasPrefix(got, untouched+"---\n# the one to fill\n") {
		t.Errorf("the document that does not change, or the separator and comment before the one that does, was rewritten:\n%s", got)
	}
	for _, want := range []string{"    envSourceContainerName: mysql\n", "    name: mycluster # the cluster\n", "  minReplicaCount: 3\n",
		"  advanced:\n    behavior:\n      policies:\n        - value: 1\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
	if strings.Count(got, "# the one to fill") != 1 {
		t.Errorf("the comment before the document is doubled:\n%s", got)
	}
	objects, errs := Parse("fixed.yaml", fixed)
	if len(errs) != 0 || len(objects) != 2 || objects[1].Line != 7 {
		t.Errorf("the result does not read back: %v %+v", errs, objects)
	}
}

func TestApplyToAListItem(t *testing.T) {
	data := "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n"
	fixed, err := Apply([]byte(data), map[int][]jsonpatch.Operation{4: {{Operation: "add", Path: "/data", Value: map[string]string{"k": "v"}}}})
	if err != nil || !strings.Contains(string(fixed), "data:\n      k: v") {
		t.Errorf("%v\n%s", err, fixed)
	}
}

func TestApplyErrors(t *testing.T) {
	data := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
	for _, tc := range []struct {
		op   jsonpatch.Operation
		want string
	}{
		{jsonpatch.Operation{Operation: "remove", Path: "/metadata"}, `line 1: remove /metadata: the fill makes no "remove" operations`},
		{jsonpatch.Operation{Operation: "add", Path: "/spec/x", Value: 1}, "line 1: add /spec/x: no spec"},
		{jsonpatch.Operation{Operation: "add", Path: "/kind/x", Value: 1}, "x is inside a scalar"},
	} {
		if _, err := Apply(data, map[int][]jsonpatch.Operation{1: {tc.op}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want %q", tc.op, err, tc.want)
		}
	}
	if out, err := Apply(data, nil); err != nil || string(out) != string(data) {
		t.Errorf("no patch: %v %q", err, out)
	}
}
