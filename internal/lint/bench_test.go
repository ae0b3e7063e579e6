package lint

import (
	"fmt"
	"strings"
	"testing"

	"github.com/innokeda/innokeda/internal/manifests"
)

// BenchmarkLint1000 lints one stream of 1000 ScaledObjects of 10 clusters, each filled and
// checked (target: well under a second on one core; docs/performance.md).
func BenchmarkLint1000(b *testing.B) {
	var docs []string
	for c := range 10 {
		docs = append(docs, strings.Replace(cluster, "name: mycluster", fmt.Sprintf("name: cluster-%d", c), 1))
	}
	for i := range 1000 {
		docs = append(docs, scaledObject(fmt.Sprintf("so-%d", i), fmt.Sprintf("cluster-%d", i%10),
			fmt.Sprintf("SELECT COUNT(*) FROM app.jobs WHERE state = 'queued' AND shard = %d", i)))
	}
	data := []byte(strings.Join(docs, "---\n"))
	o := Options{Scheme: testScheme(b), Namespace: "default", ClusterDomain: "cluster.local"}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		input, errs := manifests.Parse("bench.yaml", data)
		r := Lint(input, o)
		if len(errs) > 0 || r.ScaledObjects != 1000 {
			b.Fatalf("%v, %d ScaledObjects", errs, r.ScaledObjects)
		}
	}
}
