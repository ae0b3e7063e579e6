package lint

import (
	"strings"

	"gomodules.xyz/jsonpatch/v2"
)

// Fix is the fill of one ScaledObject: the JSON patch the mutating webhook would send,
// to apply to its manifest.
type Fix struct {
	File string
	Line int
	Ops  []jsonpatch.Operation
}

// fixesOf keeps of patch what belongs in a manifest: the fields, not the webhook's own
// innokeda.io/autofilled annotation, which records what admission changed.
func fixesOf(patch []jsonpatch.Operation) []jsonpatch.Operation {
	var ops []jsonpatch.Operation
	for _, op := range patch {
		if !strings.HasPrefix(op.Path, "/metadata/annotations") {
			ops = append(ops, op)
		}
	}
	return ops
}
