package sqltables

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// analysisAgrees checks that one Analysis of query gives what parsing again would: ReadAll,
// SystemRead and HasUnqualified, for schema and for no schema.
func analysisAgrees(t *testing.T, query, schema string) {
	t.Helper()
	a := Analyze(query)
	for _, s := range []string{schema, ""} {
		want, wantErr := ReadAll(query, s)
		got, err := a.Reads(s)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() || !cmp.Equal(got, want, cmpopts.EquateEmpty()) {
			t.Fatalf("Analyze(%q).Reads(%q) = %+v, %v; ReadAll = %+v, %v", query, s, got, err, want, wantErr)
		}
		if wantErr == nil || s == "" {
			wt, ww := SystemRead(query, s)
			gt, gw := a.SystemRead(s)
			if wantErr == nil && (gt != wt || gw != ww) {
				t.Fatalf("Analyze(%q).SystemRead(%q) = %v %q; SystemRead = %v %q", query, s, gt, gw, wt, ww)
			}
		}
	}
	if got, want := a.HasUnqualified(), HasUnqualified(query); got != want {
		t.Fatalf("Analyze(%q).HasUnqualified() = %v, want %v", query, got, want)
	}
}

func TestAnalysisAgreesWithParsingAgain(t *testing.T) {
	for _, tc := range readCases {
		analysisAgrees(t, tc.query, tc.schema)
	}
	for _, q := range []string{
		"SELECT COUNT(*) FROM processlist", "SELECT COUNT(*) FROM t JOIN s.t ON 1 JOIN t AS x ON 1",
		"SELECT COUNT(*) FROM user", "WITH c AS (SELECT 1) SELECT * FROM c, d",
	} {
		for _, schema := range []string{"information_schema", "INFORMATION_SCHEMA", "mysql", "s", "Mysql_InnoDB_Cluster_Metadata"} {
			analysisAgrees(t, q, schema)
		}
	}
}
