package dryrun

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Value returns the number KEDA would read from obs, or why KEDA would fail: KEDA scans
// the first column of the first row into a float64 and ignores further rows. Messages
// name the SQL type, never the value, which may be anything the table holds.
func Value(obs Observation) (float64, error) {
	switch {
	case obs.Columns != 1:
		return 0, fmt.Errorf("returned %d columns; KEDA reads exactly one: select a single expression", obs.Columns)
	case obs.Rows == 0:
		return 0, fmt.Errorf("returned no rows; KEDA fails with \"sql: no rows in result set\": use an aggregate such as COUNT(*) that always returns a row")
	}
	switch v := obs.Value.(type) {
	case nil:
		return 0, fmt.Errorf("returned NULL, which KEDA cannot convert to a number: wrap the expression in COALESCE(..., 0)")
	case int64:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	case float64:
		return v, nil
	case float32:
		return float64(v), nil
	case []byte:
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return f, nil
		}
	case string:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f, nil
		}
	case time.Time, bool:
	}
	return 0, fmt.Errorf("returned a %s value that does not convert to a number: return a numeric expression", obs.ColumnSQL)
}

// Replicas is what the HPA aims at for value under KEDA's AverageValue target:
// ceil(value / queryValue), clamped to [minReplicas, maxReplicas]. KEDA counts NaN,
// infinite and negative values as 0.
func Replicas(value, queryValue float64, minReplicas, maxReplicas int32) int32 {
	if math.IsNaN(value) || math.IsInf(value, 0) || value < 0 {
		value = 0
	}
	want := math.Ceil(value / queryValue)
	switch {
	case want < float64(minReplicas):
		return minReplicas
	case want > float64(maxReplicas):
		return maxReplicas
	}
	return int32(want)
}
