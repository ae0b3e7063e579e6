package dryrun

import (
	"testing"
	"time"
)

func TestValue(t *testing.T) {
	tests := []struct {
		name    string
		obs     Observation
		want    float64
		wantErr string
	}{
		{"integer", Observation{Columns: 1, Rows: 1, Value: int64(7), ColumnSQL: "BIGINT"}, 7, ""},
		{"decimal text", Observation{Columns: 1, Rows: 1, Value: []byte("2.50"), ColumnSQL: "DECIMAL"}, 2.5, ""},
		{"numeric string", Observation{Columns: 1, Rows: 1, Value: "12", ColumnSQL: "VARCHAR"}, 12, ""},
		{"several rows: the first", Observation{Columns: 1, Rows: 2, Value: int64(1)}, 1, ""},
		{"no rows", Observation{Columns: 1}, 0, `returned no rows; KEDA fails with "sql: no rows in result set": use an aggregate such as COUNT(*) that always returns a row`},
		{"NULL", Observation{Columns: 1, Rows: 1, ColumnSQL: "DECIMAL"}, 0, "returned NULL, which KEDA cannot convert to a number: wrap the expression in COALESCE(..., 0)"},
		{"two columns", Observation{Columns: 2, Rows: 1, Value: int64(1)}, 0, "returned 2 columns; KEDA reads exactly one: select a single expression"},
		{"text", Observation{Columns: 1, Rows: 1, Value: []byte("s3cret"), ColumnSQL: "VARCHAR"}, 0, "returned a VARCHAR value that does not convert to a number: return a numeric expression"},
		{"date", Observation{Columns: 1, Rows: 1, Value: time.Now(), ColumnSQL: "DATETIME"}, 0, "returned a DATETIME value that does not convert to a number: return a numeric expression"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Value(tc.obs)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tc.want || gotErr != tc.wantErr {
				t.Errorf("Value() = %v, %q; want %v, %q", got, gotErr, tc.want, tc.wantErr)
			}
		})
	}
}

func TestReplicas(t *testing.T) {
	tests := []struct {
		value, queryValue float64
		min, max, want    int32
	}{
		{2, 3, 1, 9, 1},
		{7, 3, 1, 9, 3},
		{100, 3, 1, 9, 9},
		{0, 3, 3, 9, 3},
		{-5, 3, 1, 9, 1},
		{9, 0.5, 1, 20, 18},
	}
	for _, tc := range tests {
		if got := Replicas(tc.value, tc.queryValue, tc.min, tc.max); got != tc.want {
			t.Errorf("Replicas(%v, %v, %d, %d) = %d, want %d", tc.value, tc.queryValue, tc.min, tc.max, got, tc.want)
		}
	}
}
