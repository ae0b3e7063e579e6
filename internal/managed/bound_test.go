package managed

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/innokeda/innokeda/internal/annotations"
	"github.com/innokeda/innokeda/internal/innodbcluster"
	"github.com/innokeda/innokeda/internal/sqltables"
)

func boundOf(annotations map[string]string) ReadBound {
	return ReadBoundOf(&innodbcluster.InnoDBCluster{ObjectMeta: metav1.ObjectMeta{Name: "c", Annotations: annotations}})
}

func TestReadBound(t *testing.T) {
	orders, items, other := sqltables.Table{Schema: "app", Name: "orders"}, sqltables.Table{Schema: "app", Name: "items"}, sqltables.Table{Schema: "shop", Name: "orders"}
	upper := sqltables.Table{Schema: "App", Name: "orders"}
	processlist := sqltables.Table{Schema: "INFORMATION_SCHEMA", Name: "processlist"}
	all := []sqltables.Table{orders, items, other, upper, processlist}
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		wantOutside []sqltables.Table
	}{
		{"no bound: everything", nil, nil},
		{"one table", map[string]string{annotations.AllowedTables: "app.orders"}, []sqltables.Table{items, other, upper, processlist}},
		{"a schema", map[string]string{annotations.AllowedTables: "app.*"}, []sqltables.Table{other, upper, processlist}},
		{"two entries", map[string]string{annotations.AllowedTables: "app.*,shop.orders"}, []sqltables.Table{upper, processlist}},
		{"information_schema's names in any case", map[string]string{annotations.AllowedTables: "app.*,shop.orders,information_schema.PROCESSLIST"}, []sqltables.Table{upper}},
		{"an unreadable entry: nothing", map[string]string{annotations.AllowedTables: "app.*, shop"}, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := boundOf(tc.annotations)
			if got := b.Outside(all); !slices.Equal(got, tc.wantOutside) {
				t.Errorf("outside %v, want %v", got, tc.wantOutside)
			}
			why := b.Violation("c", Names(b.Outside(all)))
			if (why == "") != (len(tc.wantOutside) == 0) || why != "" && !strings.Contains(why, annotations.AllowedTables) {
				t.Errorf("violation %q", why)
			}
		})
	}
}
