// Package manifests reads Kubernetes objects from files, directories and stdin, the way
// kubectl apply -f reads them (multi-document YAML, JSON, List objects), and remembers
// where each object starts, so that a finding can name its file and line.
package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// Stdin is the path that stands for the standard input.
const Stdin = "-"

// MaxFileBytes bounds one input file (or stdin): well above any set of manifests, and
// what keeps a mistaken path (a disk image, /dev/zero) from filling memory.
const MaxFileBytes = 64 << 20

// MaxObjectBytes bounds one object: what the API server accepts in a request.
const MaxObjectBytes = 3 << 20

// expandedSize is about how many bytes n takes once its aliases are expanded; sizes of
// aliased nodes are counted once each and remembered in seen, and the count stops growing
// past MaxObjectBytes.
func expandedSize(n *yaml.Node, seen map[*yaml.Node]int) int {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if size, ok := seen[n]; ok {
		return size
	}
	size := len(n.Value) + 4
	for _, c := range n.Content {
		if size += expandedSize(c, seen); size > MaxObjectBytes {
			break
		}
	}
	seen[n] = size
	return size
}

// Object is one object of the input.
type Object struct {
	Source string // the file it was read from, or Stdin
	Line   int    // where it starts, from 1
	GVK    schema.GroupVersionKind
	Name   string
	// Namespace is metadata.namespace, "" when the manifest leaves it to the apply.
	Namespace string
	JSON      []byte // the object as JSON, as the API server would receive it
}

// Where names o's place in the input, as source:line.
func (o Object) Where() string { return fmt.Sprintf("%s:%d", o.Source, o.Line) }

// Error is a document or a file that could not be read; the rest of the input still is.
type Error struct {
	Source string
	Line   int // 0 when the whole file could not be read
	Err    error
}

func (e Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.Source, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.Source, e.Line, e.Err)
}

// File is one input file's content.
type File struct {
	Source string // its path, or Stdin
	Data   []byte
}

// Read reads every object of paths: files, directories (every *.yaml, *.yml and *.json
// file under them, in lexical order) and Stdin, read from stdin. Empty documents are
// skipped; a List's items are objects of their own. A file or document that cannot be
// read is an Error, and reading goes on with the next one.
func Read(paths []string, stdin io.Reader) ([]Object, []Error) {
	files, errs := ReadFiles(paths, stdin)
	objects, parseErrs := ParseFiles(files)
	return objects, append(errs, parseErrs...)
}

// ReadFiles reads the files paths stand for (see Read), each up to MaxFileBytes.
func ReadFiles(paths []string, stdin io.Reader) ([]File, []Error) {
	var files []File
	var errs []Error
	for _, path := range paths {
		names, err := expand(path)
		if err != nil {
			errs = append(errs, Error{Source: path, Err: err})
			continue
		}
		for _, name := range names {
			data, err := readFile(name, stdin)
			if err != nil {
				errs = append(errs, Error{Source: name, Err: err})
				continue
			}
			files = append(files, File{Source: name, Data: data})
		}
	}
	return files, errs
}

// ParseFiles parses each file (see Parse).
func ParseFiles(files []File) ([]Object, []Error) {
	var objects []Object
	var errs []Error
	for _, f := range files {
		o, e := Parse(f.Source, f.Data)
		objects, errs = append(objects, o...), append(errs, e...)
	}
	return objects, errs
}

// expand lists the files path stands for.
func expand(path string) ([]string, error) {
	if path == Stdin {
		return []string{Stdin}, nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil // named explicitly: read whatever its extension
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && slices.Contains([]string{".yaml", ".yml", ".json"}, strings.ToLower(filepath.Ext(p))) {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

// readFile reads file (stdin for Stdin), up to MaxFileBytes.
func readFile(file string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if file != Stdin {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("is larger than %d MiB: give the manifests, not an archive or a device", MaxFileBytes>>20)
	}
	return data, nil
}

// Parse reads the objects of one file's content. YAML and JSON alike: JSON is YAML.
func Parse(source string, data []byte) ([]Object, []Error) {
	var objects []Object
	var errs []Error
	err := eachDocument(data, func(doc *yaml.Node) error {
		o, e := objectsOf(source, doc)
		objects, errs = append(objects, o...), append(errs, e...)
		return nil
	})
	if err != nil {
		// The YAML parser cannot go past a syntax error: the rest of the file is lost,
		// and the error says where it stopped.
		errs = append(errs, Error{Source: source, Line: lineOf(err), Err: err})
	}
	return objects, errs
}

// eachDocument calls fn with each YAML document of data, in order, until fn or the parser
// returns an error, which it returns.
func eachDocument(data []byte, fn func(*yaml.Node) error) error {
	decoder := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := decoder.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if err := fn(&doc); err != nil {
			return err
		}
	}
}

// objectsOf reads one document: an object, a List of them, or nothing.
func objectsOf(source string, doc *yaml.Node) ([]Object, []Error) {
	node := doc
	if node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			return nil, nil
		}
		node = node.Content[0]
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil, nil // an empty document, or only comments
	}
	// A List is read item by item: each item, not the List, is an object the API server
	// would take, and bound.
	if kind := mappingValue(node, "kind").Value; !strings.HasSuffix(kind, "List") || mappingValue(node, "apiVersion").Value != "v1" {
		object, err := objectOf(source, node)
		if err != nil {
			return nil, []Error{{Source: source, Line: node.Line, Err: err}}
		}
		return []Object{object}, nil
	}
	var objects []Object
	var errs []Error
	for _, item := range mappingValue(node, "items").Content {
		o, err := objectOf(source, item)
		if err != nil {
			errs = append(errs, Error{Source: source, Line: item.Line, Err: err})
			continue
		}
		objects = append(objects, o)
	}
	return objects, errs
}

// objectOf converts node to an object, as kubectl converts YAML to JSON.
func objectOf(source string, node *yaml.Node) (Object, error) {
	if node.Kind != yaml.MappingNode {
		return Object{}, errors.New("is not an object (a mapping with apiVersion and kind)")
	}
	// Bounded before it is converted: aliases are expanded into the JSON, so that a small
	// file could otherwise become any size.
	if size := expandedSize(node, map[*yaml.Node]int{}); size > MaxObjectBytes {
		return Object{}, fmt.Errorf("is larger than the %d MiB the API server accepts (about %d MiB, its aliases expanded)", MaxObjectBytes>>20, size>>20)
	}
	text, err := yaml.Marshal(node)
	if err != nil {
		return Object{}, err
	}
	data, err := sigsyaml.YAMLToJSON(text)
	if err != nil {
		return Object{}, err
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, &head); err != nil { // as the API server reads it
		return Object{}, fmt.Errorf("is not a Kubernetes object: %w", err)
	}
	if head.APIVersion == "" || head.Kind == "" {
		return Object{}, errors.New("has no apiVersion or kind")
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		return Object{}, err
	}
	return Object{Source: source, Line: node.Line, GVK: gv.WithKind(head.Kind), Name: head.Metadata.Name, Namespace: head.Metadata.Namespace, JSON: data}, nil
}

// mappingValue is the value of key in mapping node, or an empty node.
func mappingValue(node *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == key {
			return node.Content[i+1]
		}
	}
	return &yaml.Node{}
}

// lineOf is the line a YAML error names ("yaml: line 7: ..."), or 0.
func lineOf(err error) int {
	var line int
	if _, scanErr := fmt.Sscanf(err.Error(), "yaml: line %d:", &line); scanErr == nil {
		return line
	}
	return 0
}
