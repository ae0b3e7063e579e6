package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"gomodules.xyz/jsonpatch/v2"
)

// Apply returns data, the content of one file, with the JSON patch operations of patches
// applied to the objects that start at their lines (Object.Line): what the mutating
// webhook would change, written into the manifest. Only the documents that change are
// written anew (their comments kept, two spaces of indent); every other byte is left as
// it was.
func Apply(data []byte, patches map[int][]jsonpatch.Operation) ([]byte, error) {
	if len(patches) == 0 {
		return data, nil
	}
	if err := rewritable(data); err != nil {
		return nil, fmt.Errorf("cannot be rewritten faithfully (%w): write the fills into it by hand", err)
	}
	lines := splitLines(data)
	// Documents start at a separator line; chunk k holds lines [starts[k], starts[k+1]).
	starts := []int{0}
	for i, l := range lines {
		if i > 0 && isSeparator(l) {
			starts = append(starts, i)
		}
	}
	replaced := map[int][]byte{} // chunk -> its document, written anew
	err := eachDocument(data, func(doc *yaml.Node) error {
		patched := func(n *yaml.Node) bool { _, ok := patches[n.Line]; return ok }
		if hasAliases(doc) && slices.ContainsFunc(objectNodes(doc), patched) {
			return errors.New("cannot be rewritten faithfully (a document to fill uses YAML anchors or aliases, which a patch would change everywhere they are used): write the fills into it by hand")
		}
		changed, err := applyAt(doc, patches)
		if err != nil || !changed {
			return err
		}
		root := doc.Content[0]
		// The lines before the document's first line are kept as they are: the comments
		// the parser gave to the document, its root or its first key are among them.
		doc.HeadComment, root.HeadComment = "", ""
		if root.Kind == yaml.MappingNode && len(root.Content) > 0 {
			root.Content[0].HeadComment = ""
		}
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(root); err != nil {
			return err
		}
		// The chunk that holds the document's first line (Line counts from 1).
		chunk, found := slices.BinarySearch(starts, root.Line-1)
		if !found {
			chunk--
		}
		replaced[chunk] = b.Bytes()
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for k, begin := range starts {
		end := len(lines)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		doc, ok := replaced[k]
		if !ok {
			out.WriteString(strings.Join(lines[begin:end], ""))
			continue
		}
		// The separator and the comments before the document stay as they were.
		for _, l := range lines[begin:end] {
			if t := strings.TrimSpace(l); t != "" && t != "---" && !strings.HasPrefix(t, "#") {
				break
			}
			out.WriteString(l)
		}
		out.Write(doc)
	}
	return out.Bytes(), nil
}

// isSeparator tells whether line starts a YAML document.
func isSeparator(line string) bool {
	return strings.HasPrefix(line, "---") && strings.TrimSpace(strings.TrimPrefix(line, "---")) == "" ||
		strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "---\t")
}

// rewritable says why Apply cannot keep what it does not change in data: the documents
// are cut at separator lines, and a line that holds more than the separator, a JSON file
// (rewritten, it would be YAML) or CRLF line endings (rewritten documents would have LF)
// would not come back as they were.
func rewritable(data []byte) error {
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return errors.New("it is JSON")
	}
	if bytes.Contains(data, []byte("\r\n")) {
		return errors.New("its lines end in CRLF")
	}
	for _, l := range splitLines(data) {
		if isSeparator(l) && strings.TrimSpace(strings.TrimPrefix(l, "---")) != "" {
			return errors.New("a document separator line holds more than ---")
		}
	}
	return nil
}

// hasAliases tells whether n, or anything in it, is an anchor or an alias.
func hasAliases(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return true
	}
	return slices.ContainsFunc(n.Content, hasAliases)
}

// objectNodes are the objects of doc: its root, and a List's items.
func objectNodes(doc *yaml.Node) []*yaml.Node {
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	nodes := []*yaml.Node{root}
	if items := mappingValue(root, "items"); items.Kind == yaml.SequenceNode {
		nodes = append(nodes, items.Content...)
	}
	return nodes
}

// applyAt applies the operations of each object of doc (the document's root, or a List's
// items) that byLine holds, and tells whether any was.
func applyAt(doc *yaml.Node, byLine map[int][]jsonpatch.Operation) (bool, error) {
	changed := false
	for _, t := range objectNodes(doc) {
		ops, ok := byLine[t.Line]
		if !ok {
			continue
		}
		for _, op := range ops {
			if err := applyOp(t, op); err != nil {
				return false, fmt.Errorf("line %d: %s %s: %w", t.Line, op.Operation, op.Path, err)
			}
		}
		changed = true
	}
	return changed, nil
}

// applyOp applies one add or replace operation (the only ones the fill makes) to node.
func applyOp(node *yaml.Node, op jsonpatch.Operation) error {
	if op.Operation != "add" && op.Operation != "replace" {
		return fmt.Errorf("the fill makes no %q operations", op.Operation)
	}
	value, err := nodeOf(op.Value)
	if err != nil {
		return err
	}
	keys := strings.Split(strings.TrimPrefix(op.Path, "/"), "/")
	for i, k := range keys {
		keys[i] = strings.ReplaceAll(strings.ReplaceAll(k, "~1", "/"), "~0", "~")
	}
	for _, k := range keys[:len(keys)-1] {
		next, err := child(node, k)
		if err != nil {
			return err
		}
		node = next
	}
	last := keys[len(keys)-1]
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == last {
				keepComments(value, node.Content[i+1])
				node.Content[i+1] = value
				return nil
			}
		}
		node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: last}, value)
		return nil
	case yaml.SequenceNode:
		if last == "-" {
			node.Content = append(node.Content, value)
			return nil
		}
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i > len(node.Content) {
			return fmt.Errorf("no item %s", last)
		}
		if op.Operation == "replace" {
			node.Content[i] = value
			return nil
		}
		node.Content = append(node.Content[:i], append([]*yaml.Node{value}, node.Content[i:]...)...)
		return nil
	}
	return fmt.Errorf("%s is inside a scalar", last)
}

// child is key's value in a mapping, or item key of a sequence.
func child(node *yaml.Node, key string) (*yaml.Node, error) {
	switch node.Kind {
	case yaml.MappingNode:
		if v := mappingValue(node, key); v.Kind != 0 {
			return v, nil
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(node.Content) {
			return node.Content[i], nil
		}
	}
	return nil, fmt.Errorf("no %s", key)
}

// nodeOf is value as a YAML node, through JSON as the patch carries it.
func nodeOf(value any) (*yaml.Node, error) {
	data, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	blockStyle(&n)
	return &n, nil
}

// blockStyle writes n and what it holds in block style, as manifests are written.
func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style &^= yaml.FlowStyle
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// keepComments moves old's comments to its replacement.
func keepComments(n, old *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = old.HeadComment, old.LineComment, old.FootComment
}

// splitLines splits data after each newline, keeping them.
func splitLines(data []byte) []string {
	var lines []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lines = append(lines, string(data))
			break
		}
		lines = append(lines, string(data[:i+1]))
		data = data[i+1:]
	}
	return lines
}
