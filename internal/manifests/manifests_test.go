package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	stream := `# a comment only
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: first
  namespace: db
spec: {}
---
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: in-list
- apiVersion: mysql.oracle.com/v2
  kind: InnoDBCluster
  metadata:
    name: mycluster
- just a string
`
	objects, errs := Parse("stream.yaml", []byte(stream))
	if len(objects) != 3 {
		t.Fatalf("%d objects: %+v", len(objects), objects)
	}
	for i, want := range []struct {
		kind, name, namespace string
		line                  int
	}{{"ScaledObject", "first", "db", 3}, {"ConfigMap", "in-list", "", 14}, {"InnoDBCluster", "mycluster", "", 18}} {
		o := objects[i]
		if o.GVK.Kind != want.kind || o.Name != want.name || o.Namespace != want.namespace || o.Line != want.line || o.Source != "stream.yaml" {
			t.Errorf("object %d: %s %s/%s at %s; want %s %s/%s at line %d", i, o.GVK.Kind, o.Namespace, o.Name, o.Where(), want.kind, want.namespace, want.name, want.line)
		}
	}
	if len(errs) != 1 || errs[0].Line != 22 || !strings.Contains(errs[0].Error(), "stream.yaml:22: is not an object") {
		t.Errorf("errors %v; want the list's string item named at line 22", errs)
	}
	if !strings.Contains(string(objects[0].JSON), `"spec":{}`) {
		t.Errorf("JSON %s", objects[0].JSON)
	}
}

func TestParseJSON(t *testing.T) {
	objects, errs := Parse("so.json", []byte("{\n  \"apiVersion\": \"keda.sh/v1alpha1\",\n  \"kind\": \"ScaledObject\",\n  \"metadata\": {\"name\": \"j\"}\n}\n"))
	if len(errs) != 0 || len(objects) != 1 || objects[0].Name != "j" || objects[0].Line != 1 {
		t.Errorf("%+v %v", objects, errs)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		// The line is the parser's: where it noticed (here the flow sequence's line, as
		// yaml.v3 counts it), after the document that ends at line 2.
		{"a YAML syntax error stops the file there", "apiVersion: v1\nkind: ConfigMap\n---\nkind: [unclosed\n", "f.yaml:3: yaml: line 3: did not find expected"},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "f.yaml:1: has no apiVersion or kind"},
		{"a bad apiVersion", "apiVersion: a/b/c\nkind: X\n", "f.yaml:1: unexpected GroupVersion string"},
		{"a scalar document", "hello\n", "f.yaml:1: is not an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objects, errs := Parse("f.yaml", []byte(tc.text))
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Errorf("errors %v; want one with %q", errs, tc.want)
			}
			if tc.name == "a YAML syntax error stops the file there" && (len(objects) != 1 || objects[0].GVK.Kind != "ConfigMap") {
				t.Errorf("objects before the error: %+v", objects)
			}
		})
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cm := func(name string) string { return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\n" }
	write("b.yaml", cm("b"))
	write("a/z.yml", cm("z"))
	write("c.JSON", `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}`)
	write("notes.txt", cm("ignored"))
	explicit := write("explicit.txt", cm("explicit"))

	objects, errs := Read([]string{dir, explicit, Stdin, filepath.Join(dir, "missing.yaml")}, strings.NewReader(cm("stdin")))
	var names []string
	for _, o := range objects {
		names = append(names, o.Source[strings.LastIndex(o.Source, "/")+1:]+"="+o.Name)
	}
	if got, want := strings.Join(names, " "), "z.yml=z b.yaml=b c.JSON=c explicit.txt=explicit -=stdin"; got != want {
		t.Errorf("read %s; want %s (directories recursed in lexical order, by extension; a file named is read whatever its extension)", got, want)
	}
	if len(errs) != 1 || errs[0].Line != 0 || !strings.Contains(errs[0].Error(), "missing.yaml: stat") {
		t.Errorf("errors %v; want the missing path named", errs)
	}
}

func TestReadBoundsAFile(t *testing.T) {
	_, errs := Read([]string{"/dev/zero"}, nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "/dev/zero: is larger than 64 MiB") {
		t.Errorf("errors %v", errs)
	}
}

// An object is bounded before it is converted, its aliases counted as what they expand to:
// a 1 MiB string aliased 10 times is refused, not expanded.
func TestParseBoundsAnObject(t *testing.T) {
	text := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  a: &big " + strings.Repeat("x", 1<<20) + "\n"
	for i := range 10 {
		text += "  k" + string(rune('a'+i)) + ": *big\n"
	}
	objects, errs := Parse("big.yaml", []byte(text))
	if len(objects) != 0 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "big.yaml:1: is larger than the 3 MiB the API server accepts") {
		t.Errorf("%d objects, errors %v", len(objects), errs)
	}
	// A List's items are bounded each, not the List.
	item := "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: x}\n  data: {a: " + strings.Repeat("y", 1<<20) + "}\n"
	objects, errs = Parse("list.yaml", []byte("apiVersion: v1\nkind: List\nitems:\n"+strings.Repeat(item, 4)))
	if len(objects) != 4 || len(errs) != 0 {
		t.Errorf("a List of four 1 MiB objects: %d objects, errors %v", len(objects), errs)
	}
}
