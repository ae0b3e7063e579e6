package sqltables

import "testing"

func TestNullableAggregate(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"SELECT SUM(n) FROM app.jobs WHERE state = 'queued'", "SUM"},
		{"SELECT MAX(n) FROM app.jobs", "MAX"},
		{"SELECT CEIL(AVG(n) / 6) FROM app.jobs", "AVG"},
		{"SELECT (SELECT MIN(n) FROM app.jobs) + 1", "MIN"},
		{"SELECT COALESCE(SUM(n), 0) FROM app.jobs", ""},
		{"SELECT IFNULL(MAX(n), 0) FROM app.jobs", ""},
		{"SELECT COALESCE(SUM(n), NULL) FROM app.jobs", "SUM"},
		{"SELECT COUNT(*) FROM app.jobs", ""},
		{"SELECT CEIL(COUNT(*) / 6) FROM app.jobs", ""},
		{"SELECT n FROM app.jobs", ""},
	} {
		a := Analyze(tc.query)
		if a.Err != nil {
			t.Fatalf("%s: %v", tc.query, a.Err)
		}
		if got := a.NullableAggregate(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.query, got, tc.want)
		}
	}
}
